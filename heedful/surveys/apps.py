from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "heedful.surveys"
    verbose_name = "Surveys"
