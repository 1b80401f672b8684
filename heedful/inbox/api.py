from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """The inbox API registers its viewsets here."""
