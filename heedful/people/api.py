from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """The people API registers its viewsets here."""
