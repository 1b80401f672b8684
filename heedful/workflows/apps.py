from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "heedful.workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        from heedful.workflows.actions import register_action_types

        register_action_types()
