from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "heedful.governance"
    verbose_name = "Governance"
