from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """The workflows API registers its viewsets here."""
