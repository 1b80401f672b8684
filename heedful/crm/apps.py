from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "heedful.crm"
    verbose_name = "Crm"
