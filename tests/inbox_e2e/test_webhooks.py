"""Outgoing webhooks on conversation events, signed, delivered to a real HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from heedful.inbox import services, webhooks
from heedful.inbox.models import Channel, WebhookDelivery

pytestmark = pytest.mark.django_db


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers), body))
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def deliver_all() -> list[str]:
    return [webhooks.deliver(pk) for pk in webhooks.due_delivery_ids()]


def test_conversation_events_are_delivered_signed(receiver, settings, no_engine):
    state, url = receiver
    settings.HEEDFUL_INBOX_WEBHOOKS = [{"url": url, "secret": "s3cret"}]
    conversation = services.start_conversation(channel=Channel.CHAT)
    services.receive_customer_message(conversation=conversation, body="a person please")

    assert deliver_all() == ["sent", "sent", "sent"]

    events = [headers["X-Heedful-Event"] for headers, _ in state.requests]
    assert events == ["conversation.created", "message.received", "conversation.handed_off"]
    headers, body = state.requests[1]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Heedful-Signature"] == expected
    assert json.loads(body)["message"]["text"] == "a person please"
    assert json.loads(state.requests[2][1])["reason"] == "the customer asked for a person"


def test_a_failing_receiver_is_retried_later_and_the_delivery_kept(receiver, settings, no_engine):
    state, url = receiver
    state.status = 500
    settings.HEEDFUL_INBOX_WEBHOOKS = [{"url": url, "secret": "s3cret"}]
    services.start_conversation(channel=Channel.CHAT)

    assert deliver_all() == ["pending"]
    assert deliver_all() == []  # not due yet

    row = WebhookDelivery.objects.get()
    assert (row.attempts, row.last_error) == (1, "HTTPError: HTTP Error 500: Internal Server Error")


def test_no_subscribers_no_deliveries(no_engine):
    services.start_conversation(channel=Channel.CHAT)

    assert WebhookDelivery.objects.count() == 0
