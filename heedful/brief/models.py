"""What the home page needs that no other app keeps: when the background jobs last ran."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last time a periodic task of ``name`` ran in a worker (one row per name).

    Beat sends the task every minute and a worker runs it, so an old ``beat_at`` means that
    one of the two has stopped: nothing else would tell, since the web server goes on serving.
    """

    name = models.CharField(max_length=40, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
