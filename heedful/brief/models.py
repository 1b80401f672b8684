"""What the home page needs that no other app keeps: when the background jobs last ran, and
whether the owner hid the setup list."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Heartbeat(models.Model):
    """The last time a periodic task of ``name`` ran in a worker (one row per name).

    Beat sends the task every minute and a worker runs it, so an old ``beat_at`` means that
    one of the two has stopped: nothing else would tell, since the web server goes on serving.
    """

    name = models.CharField(max_length=40, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class SetupListHidden(models.Model):
    """Someone hid the home page's setup list (one row, pk 1); without it the list shows while
    steps are left. Deleting the row shows it again."""

    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"setup list hidden at {self.hidden_at:%Y-%m-%d %H:%M}"
