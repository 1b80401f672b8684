"""Celery tasks for the knowledge base."""

from __future__ import annotations

from celery import shared_task

from heedful.knowledge import matching


@shared_task
def warm_faq_matcher_task() -> str:
    """Train (and persist under the data directory) the matcher for the current knowledge base,
    so that the first customer question after an edit does not wait for training.
    Idempotent: a version already trained is loaded, not retrained."""
    return matching.warm()
