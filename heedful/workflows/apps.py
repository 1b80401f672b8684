from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "heedful.workflows"
    verbose_name = "Workflows"
