from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "heedful.people"
    verbose_name = "People"
