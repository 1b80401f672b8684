from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "heedful.crm"
    verbose_name = _("Contacts")

    def ready(self) -> None:
        from heedful.crm.actions import ACTION_TYPES
        from heedful.governance.actions import register_action

        for action_type in ACTION_TYPES:
            register_action(action_type)
