"""Knowledge base: CSV and Markdown imports, the needs-attention page, public articles."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from heedful.governance.models import AuditEvent
from heedful.knowledge import services
from heedful.knowledge.models import Article, FaqEntry

pytestmark = pytest.mark.django_db

FAQ_CSV = (
    "question,answer,variants,link\n"
    "How long does shipping take?,1–3 days.,delivery time|when will it arrive,https://shop.example/shipping\n"
    "Do you ship abroad?,To the EU only.,,\n"
    ",no question here,,\n"
)


def test_csv_import_creates_entries_and_a_second_import_changes_nothing():
    first = services.import_faq_csv(text=FAQ_CSV)
    second = services.import_faq_csv(text=FAQ_CSV)

    assert (first, second) == (2, 2)
    entry = FaqEntry.objects.get(question="How long does shipping take?")
    assert entry.variant_list() == ["delivery time", "when will it arrive"]
    assert entry.link() == "https://shop.example/shipping"
    assert FaqEntry.objects.count() == 2
    assert AuditEvent.objects.filter(action="knowledge.faq.import").count() == 2


def test_markdown_folder_import_makes_one_article_per_file(tmp_path):
    (tmp_path / "returns.md").write_text("# Returning an item\n\nUse the form within 30 days.\n")
    (tmp_path / "no-heading.md").write_text("Just text.\n")
    (tmp_path / "notes.txt").write_text("ignored")

    call_command("import_knowledge", "--markdown", str(tmp_path))

    assert list(Article.objects.order_by("slug").values_list("slug", "title", "body")) == [
        ("no-heading", "No Heading", "Just text."),
        ("returns", "Returning an item", "Use the form within 30 days."),
    ]


def test_an_entry_citing_an_article_links_to_its_public_page(client, settings):
    settings.SITE_URL = "https://help.shop.example"
    article = Article.objects.create(title="Returns", slug="returns", body="Use the form.")
    entry = FaqEntry.objects.create(question="Returns?", answer="30 days.", article=article)

    assert entry.link() == "https://help.shop.example/knowledge/articles/returns/"
    assert "Use the form." in client.get("/knowledge/articles/returns/").content.decode()


def test_the_page_lists_entries_customers_marked_unhelpful_or_agents_answer_by_hand(agent_client):
    fine = FaqEntry.objects.create(question="Fine?", answer="Yes.", helpful_count=9)
    flagged = FaqEntry.objects.create(question="Flagged?", answer="Hm.", unhelpful_count=2)
    by_hand = FaqEntry.objects.create(question="By hand?", answer="Eh.", answered_by_hand_count=3)

    response = agent_client.get("/knowledge/")

    assert [e.pk for e in response.context["attention"]] == [flagged.pk, by_hand.pk]
    assert fine.pk not in [e.pk for e in response.context["attention"]]


def test_an_import_that_repeats_another_entry_s_phrasing_says_so_and_the_page_lists_it(manager_client):
    # Session 7's click-through: the demo's payment entry has the variant "can I pay by
    # invoice"; an imported entry with the same words as its question made the bot hand that
    # question off (the two answers tie), and nothing on the page said why.
    payment = FaqEntry.objects.create(
        question="Which payment methods do you accept?", answer="Card.", variants="can I pay by invoice"
    )
    gift_cards = FaqEntry.objects.create(question="Do you sell gift cards?", answer="Yes.")
    text = 'question,answer\nCan I pay by invoice?,"Yes, within 14 days."\ndo you sell GIFT cards,Yes!\n'
    upload = SimpleUploadedFile("faq.csv", text.encode("utf-8"), content_type="text/csv")

    response = manager_client.post("/knowledge/import/", {"file": upload}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        "2 entries imported.",
        "2 phrasing(s) now belong to more than one entry; the bot hands such questions to a "
        "person. See “Needs attention”.",
    ]
    invoice = FaqEntry.objects.get(question="Can I pay by invoice?")
    imported_gift_cards = FaqEntry.objects.get(question="do you sell GIFT cards")
    assert [(s.phrasing, [e.pk for e in s.entries]) for s in response.context["shared"]] == [
        ("can I pay by invoice", [payment.pk, invoice.pk]),
        ("Do you sell gift cards?", [gift_cards.pk, imported_gift_cards.pk]),
    ]
    page = response.content.decode()
    assert "Written the same way for different answers" in page
    assert (
        f'<a href="/knowledge/{payment.pk}/edit/">Which payment methods do you accept?</a>; '
        f'<a href="/knowledge/{invoice.pk}/edit/">Can I pay by invoice?</a>'
    ) in page


def test_the_page_lists_no_shared_phrasings_when_inactive_entries_hold_the_same_words(agent_client):
    FaqEntry.objects.create(question="Can I pay by invoice?", answer="Yes.")
    FaqEntry.objects.create(question="can i pay by invoice", answer="No.", is_active=False)

    response = agent_client.get("/knowledge/")

    assert response.context["shared"] == []
    assert "Written the same way" not in response.content.decode()


def test_a_manager_imports_a_csv_from_the_page(manager_client):
    upload = SimpleUploadedFile("faq.csv", FAQ_CSV.encode("utf-8-sig"), content_type="text/csv")

    response = manager_client.post("/knowledge/import/", {"file": upload})

    assert response.status_code == 302
    assert FaqEntry.objects.count() == 2


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "faq.xlsx",
            b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)),
            "This is a spreadsheet workbook (.xlsx, .xls or .ods), not a CSV file.",
        ),
        ("faq.csv", b"question,answer\n" + b"a" * (10 * 1024 * 1024), "The file is larger than 10 MB."),
    ],
)
def test_a_workbook_or_a_huge_file_is_refused_with_what_to_do(manager_client, name, content, message):
    upload = SimpleUploadedFile(name, content)

    response = manager_client.post("/knowledge/import/", {"file": upload}, follow=True)

    assert message in response.content.decode()
    assert not FaqEntry.objects.exists()


def test_a_semicolon_separated_export_imports_like_a_comma_separated_one():
    # German Excel's "CSV UTF-8" uses semicolons; commas inside the answer stay text.
    text = 'Question;Answer;Variants\nDo you ship abroad?;"Yes, to the EU; not to the UK.";ship to France\n'

    assert services.import_faq_csv(text=text) == 1
    entry = FaqEntry.objects.get()
    assert (entry.question, entry.answer, entry.variant_list()) == (
        "Do you ship abroad?",
        "Yes, to the EU; not to the UK.",
        ["ship to France"],
    )


def test_nul_characters_in_a_csv_are_dropped_and_the_entries_imported():
    # PostgreSQL refuses NUL in text: the import was a 500 there.
    count = services.import_faq_csv(text="question,answer\nDo you sell\x00 gift cards,Yes\x00 we do.\n")
    assert count == 1
    assert FaqEntry.objects.get().question == "Do you sell gift cards"
    assert FaqEntry.objects.get().answer == "Yes we do."


def test_an_overlong_question_stops_the_import_with_its_line_and_imports_nothing(manager_client):
    text = FAQ_CSV + ("q" * 301) + ",an answer,,\n"
    upload = SimpleUploadedFile("faq.csv", text.encode("utf-8"), content_type="text/csv")

    response = manager_client.post("/knowledge/import/", {"file": upload}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        "Line 5: the question is longer than 300 characters. Nothing was imported."
    ]
    assert not FaqEntry.objects.exists()


def test_an_unquoted_comma_in_the_last_column_s_answer_keeps_the_whole_answer(manager_client):
    # Found clicking through: "Yes, for orders over 100 euros." became the answer "Yes", and the
    # rest, a cell the header did not name, was dropped without a word.
    text = (
        "question,answer\nDo you ship abroad?,To the EU only.\n"
        "can i pay by invoice?,Yes, for orders over 100 euros, within 14 days.\n"
    )
    upload = SimpleUploadedFile("faq.csv", text.encode("utf-8"), content_type="text/csv")

    manager_client.post("/knowledge/import/", {"file": upload})

    assert FaqEntry.objects.get(question="can i pay by invoice?").answer == (
        "Yes, for orders over 100 euros, within 14 days."
    )


def test_extra_cells_that_could_belong_to_any_column_stop_the_import(manager_client):
    text = FAQ_CSV + "Do you ship abroad?,Yes, to the EU,eu shipping,https://shop.example/eu\n"
    upload = SimpleUploadedFile("faq.csv", text.encode("utf-8"), content_type="text/csv")

    response = manager_client.post("/knowledge/import/", {"file": upload}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        "Line 5 has more cells than the first line has columns: put text that contains commas in "
        "double quotes. Nothing was imported."
    ]
    assert not FaqEntry.objects.exists()


def test_a_file_without_question_and_answer_columns_imports_nothing_and_says_why():
    with pytest.raises(ValidationError) as raised:
        services.import_faq_csv(text="Frage,Antwort\nWie lange?,3 Tage\n")

    assert raised.value.messages == [
        "The first line must name the columns: question, answer (and, if used, variants, link). "
        "Nothing was imported."
    ]


def test_column_names_are_read_in_any_case():
    assert services.import_faq_csv(text="Question , ANSWER\nDo you ship abroad?,To the EU only.\n") == 1


def test_agents_read_the_knowledge_base_but_do_not_import(agent_client):
    upload = SimpleUploadedFile("faq.csv", FAQ_CSV.encode(), content_type="text/csv")

    assert agent_client.get("/knowledge/").status_code == 200
    assert agent_client.post("/knowledge/import/", {"file": upload}).status_code == 403
    assert FaqEntry.objects.count() == 0


def test_employees_cannot_import(employee_client):
    upload = SimpleUploadedFile("faq.csv", FAQ_CSV.encode(), content_type="text/csv")

    assert employee_client.post("/knowledge/import/", {"file": upload}).status_code == 403
    assert FaqEntry.objects.count() == 0
