from typing import Any

from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "heedful.knowledge"
    verbose_name = "Knowledge"

    def ready(self) -> None:
        from celery.signals import worker_ready

        worker_ready.connect(warm_faq_matcher_at_start, weak=False, dispatch_uid="heedful.knowledge.warm")


def warm_faq_matcher_at_start(sender: Any = None, **kwargs: Any) -> None:
    """Queue the matcher's training when a worker starts. An upgrade that changes how the matcher
    is trained (a new calibration procedure) makes every kept matcher stale; without this the
    first customer question started the retrain in the web process and, for a large knowledge
    base, questions were handed off as "still relearning" for minutes. Idempotent: a version
    already trained is loaded, not retrained."""
    from django.db import connection

    from heedful.knowledge.models import FaqEntry
    from heedful.knowledge.tasks import warm_faq_matcher_task

    # A worker may start before the migrations ran (a container started ahead of `migrate`):
    # nothing to warm then, and the first edit or question trains the matcher.
    try:
        ready = FaqEntry._meta.db_table in connection.introspection.table_names()
    finally:
        if not connection.in_atomic_block:  # a test's transaction
            connection.close()  # not held by the worker's main process
    if ready:
        warm_faq_matcher_task.delay()
