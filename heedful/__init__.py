"""heedful: automation handles the routine so people can pay attention to people."""

from heedful.celery import app as celery_app

__all__ = ["celery_app"]
__version__ = "0.1.0"
