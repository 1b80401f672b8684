from django.apps import AppConfig


class BriefConfig(AppConfig):
    name = "heedful.brief"
    verbose_name = "Brief"
