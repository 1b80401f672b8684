from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "heedful.workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        from django.apps import apps

        from heedful.workflows.actions import register_action_types

        register_action_types()
        # Erasing a contact (crm) reaches the events, runs and emails about them too.
        if apps.is_installed("heedful.crm"):
            from heedful.crm.erasure import register_eraser
            from heedful.workflows.erasure import erase_person

            register_eraser("workflows", erase_person)
