from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """The knowledge API registers its viewsets here."""
