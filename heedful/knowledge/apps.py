from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "heedful.knowledge"
    verbose_name = "Knowledge"
