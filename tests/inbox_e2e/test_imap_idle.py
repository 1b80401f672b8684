"""The IMAP IDLE listener against the real dovecot: new mail appears without anyone polling, a
dropped connection is re-opened, nothing is stored twice, and it stops when asked."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from heedful.inbox.idle import MailboxListener
from heedful.inbox.models import Author, MailboxState, Message
from tests.inbox_e2e.servers import ImapAccount, free_port

pytestmark = pytest.mark.django_db(transaction=True)  # the listener's thread has its own connection


def plain(message_id: str, body: str) -> bytes:
    return (
        f"From: Anna <anna@example.com>\r\nTo: shop@example.com\r\nSubject: Tea\r\n"
        f"Message-ID: {message_id}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds it took for ``condition`` to hold; fails the test after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def customer_bodies() -> list[str]:
    return sorted(Message.objects.filter(author_kind=Author.CUSTOMER).values_list("body", flat=True))


class Proxy:
    """A TCP relay between the listener and dovecot that the test can cut, as a network would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.sockets: list[socket.socket] = []
        self.accepted = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.accepted += 1
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self.sockets = []

    def close(self) -> None:
        self.cut()
        self.server.close()


@pytest.fixture
def listen() -> Iterator[Callable[..., MailboxListener]]:
    started: list[tuple[MailboxListener, threading.Thread]] = []

    def start(account: dict, **options: float) -> MailboxListener:  # type: ignore[type-arg]
        listener = MailboxListener(account, check_seconds=0.2, backoff_seconds=0.2, **options)
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        started.append((listener, thread))
        return listener

    yield start
    for listener, thread in started:
        listener.stop.set()
        thread.join(timeout=10)


def test_new_mail_appears_within_seconds_without_a_poll(dovecot: ImapAccount, no_engine, listen):
    listener = listen(dovecot.settings(), renew_seconds=600)
    wait_until(listener.idling.is_set)
    polls_before = listener.stats.polls

    dovecot.append(plain("<idle-1@example.com>", "Is the Assam back in stock?"))
    took = wait_until(lambda: customer_bodies() == ["Is the Assam back in stock?"])

    wait_until(lambda: listener.stats.polls == polls_before + 1)  # the read in progress ends
    wait_until(listener.idling.is_set)  # and the listener waits for the next one

    assert took < 5
    assert listener.stats.polls == polls_before + 1  # one read, triggered by the server's news
    assert listener.stats.stored == 1
    assert MailboxState.objects.get().last_uid == 1


def test_what_arrived_before_it_started_is_read_at_once_and_never_twice(dovecot, no_engine, listen):
    dovecot.append(plain("<early@example.com>", "Hello"))
    first = listen(dovecot.settings())
    wait_until(first.idling.is_set)
    first.stop.set()
    second = listen(dovecot.settings())
    wait_until(second.idling.is_set)

    assert customer_bodies() == ["Hello"]
    assert (first.stats.stored, second.stats.stored) == (1, 0)


def test_a_cut_connection_is_reopened_and_mail_sent_meanwhile_arrives(dovecot, no_engine, listen):
    proxy = Proxy(dovecot.port)
    try:
        listener = listen(dovecot.settings() | {"port": proxy.port})
        wait_until(listener.idling.is_set)

        proxy.cut()
        dovecot.append(plain("<cut-1@example.com>", "Sent while the line was down"))
        wait_until(lambda: customer_bodies() == ["Sent while the line was down"])
        wait_until(listener.idling.is_set)
        dovecot.append(plain("<cut-2@example.com>", "And after"))
        wait_until(lambda: len(customer_bodies()) == 2)

        assert customer_bodies() == ["And after", "Sent while the line was down"]
        assert listener.stats.connects == 2
        assert listener.stats.failures == 1
        assert "closed" in listener.stats.last_error or "goodbye" in listener.stats.last_error
    finally:
        proxy.close()


def test_an_unreachable_server_is_retried_with_growing_pauses(no_engine):
    account = {"host": "127.0.0.1", "port": free_port(), "user": "u", "password": "p", "mailbox": "INBOX"}
    listener = MailboxListener(
        account | {"ssl": False}, backoff_seconds=0.1, max_backoff_seconds=0.4, timeout=2
    )
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    time.sleep(1.5)  # pauses of about 0.1, 0.2, 0.4, 0.4 s: four or five attempts, not hundreds
    listener.stop.set()
    thread.join(timeout=5)

    assert not thread.is_alive()
    assert 3 <= listener.stats.failures <= 7
    assert listener.stats.connects == 0
    assert "ConnectionRefusedError" in listener.stats.last_error


def test_it_stops_within_a_second_while_idling(dovecot, no_engine):
    listener = MailboxListener(dovecot.settings(), check_seconds=0.5, renew_seconds=600)
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    wait_until(listener.idling.is_set)

    started = time.monotonic()
    listener.stop.set()
    thread.join(timeout=5)

    assert not thread.is_alive()
    assert time.monotonic() - started < 1.5
    assert listener.stats.failures == 0


def test_the_imap_idle_command_reads_new_mail_and_stops_on_sigterm(dovecot, tmp_path):
    """``heedful imap-idle`` as production runs it: its own process, its own (SQLite) database."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="heedful.settings",
        HEEDFUL_DATA_DIR=str(tmp_path),
        SECRET_KEY="test-only",
        HEEDFUL_HTTPS="false",
        HEEDFUL_IMAP_HOST=dovecot.host,
        HEEDFUL_IMAP_PORT=str(dovecot.port),
        HEEDFUL_IMAP_USER=dovecot.user,
        HEEDFUL_IMAP_PASSWORD=dovecot.password,
        HEEDFUL_IMAP_SSL="false",
        LOG_LEVEL="INFO",
    )
    heedful = [sys.executable, "-m", "heedful.cli"]
    subprocess.run([*heedful, "migrate"], env=env, check=True, capture_output=True, timeout=300)
    dovecot.append(plain("<cli-1@example.com>", "Before it started"))
    process = subprocess.Popen(
        [*heedful, "imap-idle"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:

        def bodies() -> list[str]:
            with sqlite3.connect(tmp_path / "heedful.sqlite3") as db:
                rows = db.execute("SELECT body FROM inbox_message WHERE author_kind = 'customer' ORDER BY id")
                return [row[0] for row in rows]

        wait_until(lambda: bodies() == ["Before it started"], timeout=60)
        time.sleep(0.5)  # into IDLE
        dovecot.append(plain("<cli-2@example.com>", "While it listens"))
        took = wait_until(lambda: bodies() == ["Before it started", "While it listens"], timeout=10)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    output = process.stdout.read().decode() if process.stdout else ""

    assert took < 5
    assert code == 0, output
    assert "IMAP listener: stopped" in output


def test_the_imap_idle_command_without_a_mailbox_says_so_and_exits(settings):
    from click.testing import CliRunner

    from heedful.cli import main

    settings.HEEDFUL_IMAP_HOST = ""
    result = CliRunner().invoke(main, ["imap-idle"])

    assert result.exit_code == 0
    assert result.output == "heedful: no IMAP mailbox configured (HEEDFUL_IMAP_HOST); nothing to listen to.\n"


def test_two_pollers_at_once_store_each_message_once(dovecot, no_engine):
    """The listener and the beat's poll may read the same mailbox at the same moment."""
    from heedful.inbox import mail_in

    for i in range(12):
        dovecot.append(plain(f"<both-{i}@example.com>", f"Message {i}"))
    results: list[mail_in.PollResult] = []

    def poll() -> None:
        from django.db import connection

        try:
            results.append(mail_in.poll_mailbox(**dovecot.settings()))
        finally:
            connection.close()

    threads = [threading.Thread(target=poll) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(customer_bodies()) == sorted(f"Message {i}" for i in range(12))
    assert sum(r.stored for r in results) == 12
    assert [r.failed for r in results] == [[], []]
