"""IMAP IDLE: new mail is read the moment it arrives, not at the next minute's poll.

A long-running listener keeps one connection to the mailbox in IDLE (RFC 2177), where the
server tells us about new messages. On such news it runs the ordinary poll
(``mail_in.poll_mailbox``), which reads by UID and never stores a message twice; so the
listener only decides *when* to read, never *what*. It also polls after every (re)connect,
to catch up on what arrived while it was away, and renews IDLE every few minutes (servers drop
idle connections after 30). A lost connection is re-opened with exponential backoff. The beat's
minute poll stays as the safety net. A server without IDLE gets a poll every
``fallback_seconds`` instead.

Run it as ``heedful imap-idle`` (``heedful up`` starts it when an IMAP host is configured);
SIGTERM or SIGINT stops it within about a second.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections, connection
from imapclient import IMAPClient

log = logging.getLogger(__name__)

NEW_MAIL = {b"EXISTS", b"RECENT"}


@dataclass
class ListenerStats:
    """What the listener did, for its log line and for tests."""

    connects: int = 0
    polls: int = 0
    stored: int = 0
    failures: int = 0
    last_error: str = ""


class MailboxListener:
    """Watches one IMAP mailbox; ``run`` returns once ``stop`` is set."""

    def __init__(
        self,
        account: dict[str, Any],
        *,
        stop: threading.Event | None = None,
        renew_seconds: float = 300.0,
        check_seconds: float = 1.0,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 300.0,
        fallback_seconds: float = 60.0,
        timeout: float = 60.0,
        poll: Callable[[dict[str, Any]], int] | None = None,
    ) -> None:
        self.account = account
        self.stop = stop or threading.Event()
        self.renew_seconds = renew_seconds
        self.check_seconds = check_seconds
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.fallback_seconds = fallback_seconds
        self.timeout = timeout
        self._poll_mailbox = poll or _poll_mailbox
        self.stats = ListenerStats()
        self.idling = threading.Event()  # set while the server is in IDLE for us (tests wait on it)

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> ListenerStats:
        delay = self.backoff_seconds
        try:
            while not self.stop.is_set():
                try:
                    self._session()
                    delay = self.backoff_seconds
                except Exception as exc:  # any failure: the connection is gone, try again later
                    self.idling.clear()
                    self.stats.failures += 1
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    log.warning("IMAP listener: %s; reconnecting in %.0f s", self.stats.last_error, delay)
                    # Jitter keeps many installations from reconnecting to one server in step.
                    self.stop.wait(delay * random.uniform(0.8, 1.2))  # noqa: S311 - not for security
                    delay = min(delay * 2, self.max_backoff_seconds)
        finally:
            connection.close()
        return self.stats

    def _session(self) -> None:
        account = self.account
        client = IMAPClient(account["host"], port=account["port"], ssl=account["ssl"], timeout=self.timeout)
        try:
            client.login(account["user"], account["password"])
            self.stats.connects += 1
            if not client.has_capability("IDLE"):
                log.warning(
                    "IMAP listener: %s has no IDLE; polling every %s s",
                    account["host"],
                    self.fallback_seconds,
                )
                client.logout()
                self._poll_until_stopped()
                return
            client.select_folder(account["mailbox"], readonly=True)
            self._poll()  # what arrived while nobody listened
            while not self.stop.is_set():
                if self._idle(client):
                    self._poll()
        finally:
            self.idling.clear()
            with contextlib.suppress(Exception):  # the connection may already be gone
                client.logout()

    def _idle(self, client: IMAPClient) -> bool:
        """One IDLE round, up to ``renew_seconds``; True when the server reported new mail."""
        client.idle()
        self.idling.set()
        news = False
        renew_at = time.monotonic() + self.renew_seconds
        try:
            while not news and not self.stop.is_set() and time.monotonic() < renew_at:
                started = time.monotonic()
                responses = client.idle_check(timeout=self.check_seconds)
                if not responses and time.monotonic() - started < self.check_seconds / 2:
                    # idle_check returns early and empty only when the socket hit end-of-file.
                    raise ConnectionError("the server closed the connection")
                news = _has_news(responses)
        finally:
            self.idling.clear()
        _text, pending = client.idle_done()
        return news or _has_news(pending) or time.monotonic() >= renew_at

    def _poll_until_stopped(self) -> None:
        while not self.stop.is_set():
            self._poll()
            self.stop.wait(self.fallback_seconds)

    def _poll(self) -> None:
        close_old_connections()  # a long-lived process must not keep a broken database connection
        try:
            stored = self._poll_mailbox(self.account)
        except Exception:
            # Reading failed (the poll records why in MailboxState); the next news or the
            # beat's poll tries again. The IDLE connection itself is fine.
            log.exception("IMAP listener: polling %s failed", self.account["host"])
            return
        finally:
            close_old_connections()
        self.stats.polls += 1
        self.stats.stored += stored
        if stored:
            log.info("IMAP listener: %s new message(s) stored", stored)


def _has_news(responses: list[Any]) -> bool:
    for response in responses:
        if len(response) >= 2 and response[1] in NEW_MAIL:
            return True
        if response and response[0] == b"BYE":
            raise ConnectionError("the server said goodbye")
    return False


def _poll_mailbox(account: dict[str, Any]) -> int:
    from heedful.inbox import mail_in

    return mail_in.poll_mailbox(**account).stored


def listen_forever(account: dict[str, Any], stop: threading.Event) -> ListenerStats:
    """The ``heedful imap-idle`` process: listen until ``stop`` is set."""
    log.info("IMAP listener: watching %s@%s/%s", account["user"], account["host"], account["mailbox"])
    stats = MailboxListener(account, stop=stop).run()
    log.info("IMAP listener: stopped (%s)", stats)
    return stats
