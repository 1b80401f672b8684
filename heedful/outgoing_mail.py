"""Whether heedful's email really leaves the machine.

The embedded default has no mail server: mail is written to files in the data directory
(``sent-mail/``), never lost but never delivered either. Pages that would say "sent" say so
instead, and hand over what the email carried (an invitation's link, say).
"""

from __future__ import annotations

from django.conf import settings

FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


def mail_is_delivered() -> bool:
    return str(settings.EMAIL_BACKEND) != FILE_BACKEND
