from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "heedful.inbox"
    verbose_name = "Inbox"
