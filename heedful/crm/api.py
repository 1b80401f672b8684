from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Placeholder until the API lands."""
