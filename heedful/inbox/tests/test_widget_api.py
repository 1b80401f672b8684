"""The chat widget's JSON API: visitors, origins, rate limits, and text-only messages."""

from __future__ import annotations

import json

import pytest
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.core.cache import cache
from django.test import Client

from heedful.inbox.models import ChatVisitor, Conversation, Message, Status
from heedful.inbox.services import add_internal_note
from heedful.knowledge import matching
from heedful.knowledge.tests.fixtures import training_elsewhere

pytestmark = pytest.mark.django_db
SHOP = "https://shop.example"


@pytest.fixture(autouse=True)
def _widget_settings(settings):  # type: ignore[no-untyped-def]
    settings.HEEDFUL_WIDGET_ALLOWED_ORIGINS = [SHOP]
    settings.HEEDFUL_CHAT_RATE_LIMIT = 3
    cache.clear()


def post(client, path, data=None, token="", origin=SHOP):  # type: ignore[no-untyped-def]
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    if token:
        headers["HTTP_X_HEEDFUL_VISITOR"] = token
    return client.post(path, json.dumps(data or {}), content_type="application/json", **headers)


def start(client):  # type: ignore[no-untyped-def]
    return post(client, "/inbox/widget/api/session").json()["token"]


def test_a_new_visitor_gets_a_token_and_only_its_hash_is_stored():
    client = Client()

    response = post(client, "/inbox/widget/api/session")

    token = response.json()["token"]
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert len(token) >= 40
    assert list(ChatVisitor.objects.values_list("token_hash", flat=True)) == [ChatVisitor.hash_token(token)]


def test_a_returning_visitor_keeps_its_conversation(fake_engine, shipping_entry):
    client = Client()
    token = start(client)
    post(client, "/inbox/widget/api/messages", {"text": "hello"}, token)

    response = post(client, "/inbox/widget/api/session", token=token)

    assert response.json()["token"] is None
    assert response.json()["messages"][0]["text"] == "hello"
    assert ChatVisitor.objects.count() == 1


def test_a_visitor_asks_and_the_bot_answer_comes_back_in_the_same_response(fake_engine, shipping_entry):
    client = Client()
    token = start(client)

    response = post(client, "/inbox/widget/api/messages", {"text": "how long does shipping take"}, token)

    messages = response.json()["messages"]
    assert [(m["author"], m["name"]) for m in messages] == [("customer", "You"), ("bot", "Assistant")]
    assert messages[1]["text"].startswith("We ship within 2 working days")
    assert [a["id"] for a in messages[1]["actions"]] == ["helped", "not_helped", "person"]


def test_while_the_bot_relearns_a_visitor_gets_a_person_at_once_and_later_ones_the_bot(
    shipping_entry, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    settings.HEEDFUL_BOT_READY_WAIT_SECONDS = 0
    matching.forget_trained()
    client = Client()
    token = start(client)

    # The worker is retraining after an edit and does not finish before the answer is sent:
    # had the request waited for it, this block would never end.
    with training_elsewhere(tmp_path / "knowledge" / matching.TRAINING_LOCK):
        during = post(client, "/inbox/widget/api/messages", {"text": "how long does shipping take"}, token)
    assert matching.ready(wait=60) is True
    later = Client()
    after = post(later, "/inbox/widget/api/messages", {"text": "how long does shipping take"}, start(later))

    assert during.status_code == 200
    first = ChatVisitor.objects.get(token_hash=ChatVisitor.hash_token(token)).conversation
    assert first is not None
    handoff = first.messages.filter(decision__isnull=False).get()
    assert handoff.decision.output == {
        "action": "handoff",
        "reason": "the bot is still relearning the knowledge base after an edit",
        "entry_id": None,
        "confidence": 0.0,
        "threshold": 1.0,
    }
    assert first.status == Status.OPEN
    assert after.json()["messages"][1]["text"].startswith("We ship within 2 working days")


def test_the_talk_to_a_person_button_hands_off(fake_engine, shipping_entry):
    client = Client()
    token = start(client)
    answer = post(
        client, "/inbox/widget/api/messages", {"text": "how long does shipping take"}, token
    ).json()["messages"][1]

    post(client, "/inbox/widget/api/feedback", {"message_id": answer["id"], "choice": "person"}, token)

    assert Conversation.objects.get().status == Status.OPEN


def test_internal_notes_are_never_shown_to_the_visitor(fake_engine, shipping_entry, agent):
    client = Client()
    token = start(client)
    post(client, "/inbox/widget/api/messages", {"text": "hello"}, token)
    add_internal_note(conversation=Conversation.objects.get(), user=agent, body="VIP, be nice")

    response = client.get(
        "/inbox/widget/api/messages?after=0", HTTP_X_HEEDFUL_VISITOR=token, HTTP_ORIGIN=SHOP
    )

    assert "VIP, be nice" not in response.content.decode()


def test_markup_comes_back_as_plain_text_in_json(fake_engine, shipping_entry):
    client = Client()
    token = start(client)

    response = post(client, "/inbox/widget/api/messages", {"text": "<img src=x onerror=alert(1)>"}, token)

    assert response["Content-Type"] == "application/json"
    assert response.json()["messages"][0]["text"] == "<img src=x onerror=alert(1)>"


def test_a_nul_or_a_lone_surrogate_in_a_chat_message_is_cleaned_not_lost(fake_engine, shipping_entry):
    # On PostgreSQL both were a 500 and the message was gone.
    client = Client()
    token = start(client)
    raw = '{"text": "where is \\u0000my \\ud800order?"}'  # as a browser may send it

    response = client.post(
        "/inbox/widget/api/messages",
        raw,
        content_type="application/json",
        HTTP_ORIGIN=SHOP,
        HTTP_X_HEEDFUL_VISITOR=token,
    )

    assert response.status_code == 200
    assert response.json()["messages"][0]["text"] == "where is my \ufffdorder?"
    assert Message.objects.get(direction="in").body == "where is my \ufffdorder?"


@pytest.mark.parametrize("text", [5, None, ["where is my order"], {"a": 1}, True])
def test_a_message_that_is_not_text_is_refused_and_nothing_stored(text):
    client = Client()
    token = start(client)

    response = post(client, "/inbox/widget/api/messages", {"text": text}, token)

    assert (response.status_code, response.json()) == (400, {"error": "text must be a string."})
    assert not Message.objects.exists()


def test_a_site_that_is_not_allowed_is_refused_without_cors_headers():
    client = Client()

    response = post(client, "/inbox/widget/api/session", origin="https://evil.example")

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    assert ChatVisitor.objects.count() == 0


def test_the_preflight_names_the_allowed_origin_and_header():
    response = Client().options("/inbox/widget/api/messages", HTTP_ORIGIN=SHOP)

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert response["Access-Control-Allow-Headers"] == "Content-Type, X-Heedful-Visitor"


def test_a_visitor_sending_too_fast_is_slowed_down(fake_engine, shipping_entry):
    client = Client()
    token = start(client)
    codes = [
        post(client, "/inbox/widget/api/messages", {"text": f"hi {i}"}, token).status_code for i in range(4)
    ]

    assert codes == [200, 200, 200, 429]
    assert Message.objects.filter(author_kind="customer").count() == 3


def test_an_unknown_token_is_refused():
    response = post(Client(), "/inbox/widget/api/messages", {"text": "hi"}, token="made-up")

    assert response.status_code == 401
    assert Conversation.objects.count() == 0


def test_the_demo_page_embeds_the_widget_from_a_static_file():
    response = Client().get("/inbox/widget-demo/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<script src="/static/inbox/widget.js" defer></script>' in html
    assert "<script>" not in html


class HashedNames(StaticFilesStorage):
    """Static URLs as the production storage gives them: widget.<hash>.js."""

    def url(self, name: str | None) -> str:
        return super().url((name or "").replace(".js", ".0123456789ab.js"))


def test_the_demo_page_shows_an_embed_tag_that_survives_upgrades(settings):
    # {% static %} gives the hashed name in production, a URL that changes with every release:
    # a shop that copied it into its site would lose the widget at the next upgrade.
    settings.STORAGES = settings.STORAGES | {"staticfiles": {"BACKEND": f"{__name__}.HashedNames"}}

    html = Client().get("/inbox/widget-demo/").content.decode()

    assert '<script src="/static/inbox/widget.0123456789ab.js" defer></script>' in html  # the page's own
    assert '&lt;script src="http://testserver/static/inbox/widget.js" defer&gt;' in html  # the one to copy


def send_raw(client, body: bytes, token: str, path="/inbox/widget/api/messages"):  # type: ignore[no-untyped-def]
    return client.post(
        path, body, content_type="application/json", HTTP_ORIGIN=SHOP, HTTP_X_HEEDFUL_VISITOR=token
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"text": "where is my ord', "The request is not valid JSON."),
        ('{"text": "café au lait"}'.encode("latin-1"), "The request must be JSON encoded as UTF-8."),
        (b'["where is my order"]', "The request must be a JSON object."),
    ],
    ids=["truncated JSON", "Latin-1 bytes", "a JSON list"],
)
def test_a_body_that_is_not_a_json_object_says_what_is_wrong_and_stores_nothing(body, error):
    # All three used to read as {} and answer "Write a message first." to a visitor who had.
    client = Client()
    token = start(client)

    response = send_raw(client, body, token)

    assert (response.status_code, response.json()) == (400, {"error": error})
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert not Message.objects.exists()


def test_a_body_over_the_upload_limit_gets_a_json_413_not_an_html_page(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = Client()
    token = start(client)

    response = send_raw(client, json.dumps({"text": "a" * 20_000}).encode(), token)

    assert (response.status_code, response.json()) == (413, {"error": "That is too much to send at once."})
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert not Message.objects.exists()


def test_a_message_over_the_limit_is_refused_whole_not_cut(fake_engine, shipping_entry):
    client = Client()
    token = start(client)

    too_long = post(client, "/inbox/widget/api/messages", {"text": "x" * 2001}, token)
    longest = post(client, "/inbox/widget/api/messages", {"text": "y" * 2000}, token)

    assert (too_long.status_code, too_long.json()) == (
        400,
        {"error": "A message can be at most 2,000 characters; this one has 2,001."},
    )
    assert longest.status_code == 200
    assert list(Message.objects.filter(direction="in").values_list("body", flat=True)) == ["y" * 2000]


def test_the_chat_service_refuses_an_over_long_message_instead_of_cutting_it():
    from heedful.inbox import chat

    session = chat.start_visitor_session(origin=SHOP)

    with pytest.raises(ValueError, match="at most 2000 characters, not 2001"):
        chat.post_visitor_message(visitor=session.visitor, text="z" * 2001)
    assert not Message.objects.exists()


def test_feedback_with_a_body_that_is_not_json_is_a_json_error():
    client = Client()
    token = start(client)

    response = send_raw(client, b"choice=helped", token, path="/inbox/widget/api/feedback")

    assert (response.status_code, response.json()) == (400, {"error": "The request is not valid JSON."})
