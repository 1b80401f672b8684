from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """The surveys API registers its viewsets here."""
