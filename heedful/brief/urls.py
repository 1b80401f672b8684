from django.urls import path

from heedful.brief import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("setup-list/", views.setup_list, name="setup-list"),
]
