"""The people done-when walk: the real demo, a real SMTP server on loopback, Chromium, a live server."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.inbox_e2e.servers import SmtpSink, smtp_server

__all__ = ["smtp_server"]


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    body: str


def mails(sink: SmtpSink) -> list[Mail]:
    """What the SMTP server received, decoded, in order."""
    found = []
    for envelope in sink.received:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        found.append(
            Mail(
                to=list(envelope.rcpt_tos),
                subject=str(message["Subject"]).strip(),  # a folded encoded word keeps its space
                # SMTP carries CRLF line ends; the text we sent had LF.
                body=body.get_content().replace("\r\n", "\n") if body is not None else "",  # type: ignore[union-attr]
            )
        )
    return found


@pytest.fixture
def tasks_run_on_commit() -> Iterator[None]:
    """Celery tasks queued on commit run right away in the process that committed (the live
    server's thread), standing in for the worker; the tasks and their email are the real ones."""
    from heedful.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def demo(
    settings: Any, tmp_path: Any, live_server: Any, smtp_server: SmtpSink, tasks_run_on_commit: None
) -> str:
    """The real demo, loaded as `heedful demo` does; links in email point at the live server."""
    from heedful.demo import load_demo

    settings.DATA_DIR = tmp_path
    settings.SITE_URL = live_server.url
    report = load_demo()
    smtp_server.received.clear()  # the demo's own leave email; each test counts its own
    return report
