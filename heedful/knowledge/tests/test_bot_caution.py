"""The owner chooses how careful the FAQ bot is; the matcher relearns its threshold for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from heedful.governance.models import AuditEvent
from heedful.knowledge import matching, services
from heedful.knowledge.models import BotCaution
from heedful.knowledge.tests.fixtures import create_topic_entries
from heedful.knowledge.tests.test_matching import small_kb  # noqa: F401  # a fixture

pytestmark = pytest.mark.django_db


def test_the_owner_makes_the_bot_more_careful_on_the_knowledge_page(owner_client):
    page = owner_client.get("/knowledge/").content.decode()
    response = owner_client.post("/knowledge/caution/", {"wrong_answers_per_100": "1"}, follow=True)

    assert 'action="/knowledge/caution/"' in page
    assert '<option value="5" selected>' in page
    assert BotCaution.objects.get(pk=1).wrong_answers_per_100 == 1
    event = AuditEvent.objects.get(action="knowledge.bot.caution")
    assert event.changes == {"wrong_answers_per_100": [5, 1]}
    assert event.summary == "At most 1 in 100 answers wrong"
    assert response.redirect_chain == [("/knowledge/#bot-calibration", 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "From now on at most 1 in 100 of the bot's answers may be wrong. It is relearning: the next "
        "question waits until it has (seconds for a small knowledge base)."
    ]
    assert '<option value="1" selected>' in response.content.decode()


def test_a_manager_sees_the_owners_choice_but_cannot_change_it(manager_client):
    services.set_bot_caution(wrong_answers_per_100=2)

    page = manager_client.get("/knowledge/").content.decode()
    refused = manager_client.post("/knowledge/caution/", {"wrong_answers_per_100": "5"})

    assert refused.status_code == 403
    assert BotCaution.objects.get(pk=1).wrong_answers_per_100 == 2
    assert 'action="/knowledge/caution/"' not in page
    assert "The owner has chosen that at most 2 in 100 of the bot's answers may be wrong." in page


def test_the_same_level_or_one_not_offered_changes_nothing(owner_client):
    same = owner_client.post("/knowledge/caution/", {"wrong_answers_per_100": "5"}, follow=True)
    odd = owner_client.post("/knowledge/caution/", {"wrong_answers_per_100": "3"}, follow=True)

    assert [str(m) for m in same.context["messages"]] == ["Nothing changed."]
    assert [str(m) for m in odd.context["messages"]] == ["Choose one of the offered levels."]
    assert not BotCaution.objects.exists()
    assert not AuditEvent.objects.filter(action="knowledge.bot.caution").exists()


def test_the_matcher_relearns_its_threshold_for_the_new_target(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.HEEDFUL_FAQ_ENCODER = "tfidf"
    matching.forget_trained()
    create_topic_entries()
    standard_version = matching.warm()
    standard = matching.bot_calibration()

    services.set_bot_caution(wrong_answers_per_100=1)
    # No forget_trained(): every process notices the change from the database, as with an edit.
    careful_version = matching.warm()
    careful = matching.bot_calibration()

    assert standard is not None
    assert careful is not None
    assert careful_version != standard_version
    assert (standard.target_percent, careful.target_percent) == ("5", "1")
    # 0.035 and 0.387 here: at most 1 in 100 wrong on 60 held-out questions means none wrong.
    assert careful.threshold > standard.threshold
    assert sorted(p.name for p in Path(tmp_path, "knowledge").glob("*.hml")) == sorted(
        [f"faq-matcher-{standard_version}.hml", f"faq-matcher-{careful_version}.hml"]
    )
    assert matching.match_question("tell me about parking").threshold == careful.threshold


@pytest.mark.usefixtures("small_kb")
def test_a_thin_knowledge_base_says_how_sure_the_careful_bot_must_be(agent_client, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.HEEDFUL_FAQ_ENCODER = "tfidf"
    matching.forget_trained()
    services.set_bot_caution(wrong_answers_per_100=1)
    matching.warm()

    calibration = matching.bot_calibration()
    page = agent_client.get("/knowledge/").content.decode()

    assert calibration is not None
    assert calibration.thin
    assert calibration.threshold >= 0.8  # the floor of a thin base, or higher for the target
    assert (
        f"Too few ways of asking to check the bot on (12): it answers only when its confidence is at "
        f"least {calibration.threshold:.2f}, a cautious level"
    ) in page
