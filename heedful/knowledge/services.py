"""Writes to the knowledge base. Each service is atomic and leaves an audit event."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.text import slugify
from django.utils.translation import gettext as _

from heedful.csv_files import sniff_delimiter
from heedful.governance.services import record_audit
from heedful.knowledge.models import Article, BotCaution, FaqEntry, UncoveredQuestion
from heedful.storable import storable

if TYPE_CHECKING:
    from heedful.accounts.models import User


def _warm_after_commit() -> None:
    from heedful.knowledge.tasks import warm_faq_matcher_task

    transaction.on_commit(warm_faq_matcher_task.delay)


@transaction.atomic
def create_faq_entry(
    *,
    question: str,
    answer: str,
    variants: list[str] | None = None,
    article_url: str = "",
    user: User | None = None,
    automation: str = "",
) -> FaqEntry:
    entry = FaqEntry.objects.create(
        question=question.strip(),
        answer=answer.strip(),
        variants="\n".join(v.strip() for v in variants or [] if v.strip()),
        article_url=article_url.strip(),
    )
    record_audit(action="knowledge.faq.create", user=user, automation=automation, obj=entry)
    _warm_after_commit()
    return entry


# What a person may change about an entry; the counters are the customers' and agents' to move.
EDITABLE_FIELDS = ("question", "variants", "answer", "article_url")


@transaction.atomic
def update_faq_entry(
    *,
    entry: FaqEntry,
    question: str | None = None,
    answer: str | None = None,
    variants: list[str] | None = None,
    article_url: str | None = None,
    user: User | None = None,
    automation: str = "",
) -> FaqEntry:
    """Change what an entry says; the audit event has ``{field: [old, new]}``; the matcher retrains.

    ``None`` leaves a field as it is. Changing nothing writes nothing.
    """
    wanted = {
        "question": question.strip() if question is not None else None,
        "answer": answer.strip() if answer is not None else None,
        "variants": "\n".join(v.strip() for v in variants if v.strip()) if variants is not None else None,
        "article_url": article_url.strip() if article_url is not None else None,
    }
    changes = {
        name: [getattr(entry, name), value]
        for name, value in wanted.items()
        if value is not None and getattr(entry, name) != value
    }
    if not changes:
        return entry
    for name, (_old, value) in changes.items():
        setattr(entry, name, value)
    entry.save(update_fields=[*changes, "updated_at"])
    record_audit(
        action="knowledge.faq.update",
        user=user,
        automation=automation,
        obj=entry,
        summary=f"Changed {', '.join(sorted(changes))}",
        changes=changes,
    )
    _warm_after_commit()
    return entry


@transaction.atomic
def delete_faq_entry(*, entry: FaqEntry, user: User | None = None, automation: str = "") -> None:
    """Remove an entry: the bot stops answering with it at once (the matcher's version changes)."""
    record_audit(
        action="knowledge.faq.delete",
        user=user,
        automation=automation,
        obj=entry,
        changes={"question": [entry.question, None], "answer": [entry.answer, None]},
    )
    entry.delete()
    _warm_after_commit()


@transaction.atomic
def set_bot_caution(*, wrong_answers_per_100: int, user: User | None = None) -> BotCaution:
    """Choose how many wrong answers in 100 the FAQ bot's threshold is calibrated for.

    The matcher retrains with the new target (its version includes it), in the background
    right after the commit; until then the bot answers with the threshold it had. Choosing the
    current level writes nothing."""
    if wrong_answers_per_100 not in BotCaution.Level.values:
        raise ValidationError(_("Choose one of the offered levels."))
    caution = BotCaution.objects.select_for_update().filter(pk=1).first() or BotCaution(pk=1)
    before = caution.wrong_answers_per_100  # the default while there is no row
    if before == wrong_answers_per_100:
        return caution
    caution.wrong_answers_per_100 = wrong_answers_per_100
    caution.save()
    record_audit(
        action="knowledge.bot.caution",
        user=user,
        obj=caution,
        summary=f"At most {wrong_answers_per_100} in 100 answers wrong",
        changes={"wrong_answers_per_100": [before, wrong_answers_per_100]},
    )
    _warm_after_commit()
    return caution


UNCOVERED_MAX_CHARS = 1000


@transaction.atomic
def mark_not_covered(
    *, text: str, user: User | None = None, wrongly_answered_with: int | None = None
) -> UncoveredQuestion:
    """Teach the bot that the knowledge base does not answer ``text``: it trains on it as a
    question to hand to a person, and on questions like it. The same words again change nothing.

    Refused when ``text`` is worded exactly like an active entry: the bot answers an entry's own
    words whatever it learnt, so the entry itself is what to change."""
    from heedful.ml.text import phrase_key  # the engine's notion of "the same words"

    text = " ".join(storable(text).split())[:UNCOVERED_MAX_CHARS]
    key = phrase_key(text)[:UNCOVERED_MAX_CHARS]
    if not key:
        raise ValidationError(_("Write the question the knowledge base does not answer."))
    from heedful.knowledge.matching import current_examples

    # The phrasings the matcher trains on (read once per knowledge-base change, per process).
    owner = next(
        (entry_id for phrasing, entry_id in current_examples()[0] if phrase_key(phrasing) == key), None
    )
    if owner is not None:
        raise ValidationError(
            _("“%(entry)s” is asked in these words; change or deactivate that entry instead.")
            % {"entry": FaqEntry.objects.get(pk=int(owner)).question}
        )
    entry = FaqEntry.objects.filter(pk=wrongly_answered_with).first() if wrongly_answered_with else None
    # get_or_create: two people marking the same question at once make one row, not an error.
    question, created = UncoveredQuestion.objects.get_or_create(
        key=key, defaults={"text": text, "added_by": user, "wrongly_answered_with": entry}
    )
    if not created:
        return question
    record_audit(
        action="knowledge.uncovered.add",
        user=user,
        obj=question,
        summary=f"Not covered: {text[:150]}"
        + (f" (the bot had answered with “{entry.question}”)" if entry else ""),
    )
    _warm_after_commit()
    return question


@transaction.atomic
def forget_not_covered(*, question: UncoveredQuestion, user: User | None = None) -> None:
    """Take a question off the list: the bot may answer questions like it again."""
    record_audit(
        action="knowledge.uncovered.remove",
        user=user,
        obj=question,
        changes={"text": [question.text, None]},
    )
    question.delete()
    _warm_after_commit()


@transaction.atomic
def flag_entry_unhelpful(*, entry_id: int, automation: str = "inbox-bot", reason: str = "") -> None:
    """A customer said the answer did not help: count it, so the entry shows up for review."""
    updated = FaqEntry.objects.filter(pk=entry_id).update(unhelpful_count=F("unhelpful_count") + 1)
    if updated:
        record_audit(
            action="knowledge.faq.flag_unhelpful",
            automation=automation,
            object_type="faqentry",
            object_id=str(entry_id),
            summary=reason or "A customer said this answer did not help",
        )


@transaction.atomic
def confirm_entry_helpful(*, entry_id: int) -> None:
    FaqEntry.objects.filter(pk=entry_id).update(helpful_count=F("helpful_count") + 1)


@transaction.atomic
def count_answered_by_hand(*, entry_id: int) -> None:
    """An agent inserted this entry's answer by hand: the bot could have, or should have, known it."""
    FaqEntry.objects.filter(pk=entry_id).update(answered_by_hand_count=F("answered_by_hand_count") + 1)


@transaction.atomic
def import_faq_csv(*, text: str, user: User | None = None) -> int:
    """Import entries from CSV with columns question, answer, variants (``|``-separated), link.

    An existing entry with the same question is updated, so importing a file twice changes nothing.
    """
    # NUL characters (PostgreSQL refuses them) are dropped; over-long cells stop the import
    # with the row named, and nothing of the file is imported (the transaction).
    text = storable(text)
    reader = csv.DictReader(io.StringIO(text), delimiter=sniff_delimiter(text, required="question"))
    if reader.fieldnames is not None:
        reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    if not reader.fieldnames or not {"question", "answer"} <= set(reader.fieldnames):
        raise ValidationError(
            _("The first line must name the columns: question, answer (and, if used, variants, link).")
            + " "
            + _("Nothing was imported.")
        )
    count = 0
    for row in reader:
        overflow = row.pop(None, None)
        if overflow is not None:
            # More cells than columns: an unquoted comma. Ignored, it cut the text short and
            # dropped the rest without a word. When the answer is the last column, the cells
            # after it can only be the rest of the answer; elsewhere nobody can tell.
            if reader.fieldnames[-1] != "answer":
                said = _(
                    "Line %(line)d has more cells than the first line has columns: put text "
                    "that contains commas in double quotes."
                )
                raise ValidationError(said % {"line": reader.line_num} + " " + _("Nothing was imported."))
            row["answer"] = ",".join([row.get("answer") or "", *overflow])
        question = (row.get("question") or "").strip()
        answer = (row.get("answer") or "").strip()
        if not question or not answer:
            continue
        link = (row.get("link") or "").strip()
        for name, value in (("question", question), ("article_url", link)):
            longest = int(getattr(FaqEntry._meta.get_field(name), "max_length", 0) or 0)
            if len(value) > longest:
                column = "link" if name == "article_url" else name
                said = _("Line %(line)d: the %(column)s is longer than %(max)d characters.")
                raise ValidationError(
                    said % {"line": reader.line_num, "column": column, "max": longest}
                    + " "
                    + _("Nothing was imported.")
                )
        variants = "\n".join(v.strip() for v in (row.get("variants") or "").split("|") if v.strip())
        FaqEntry.objects.update_or_create(
            question=question,
            defaults={"answer": answer, "variants": variants, "article_url": link},
        )
        count += 1
    record_audit(
        action="knowledge.faq.import", user=user, object_type="faqentry", summary=f"{count} entries from CSV"
    )
    _warm_after_commit()
    return count


_HEADING = re.compile(r"^#\s+(.+)$", re.MULTILINE)


@transaction.atomic
def import_markdown_folder(*, folder: Path, user: User | None = None) -> int:
    """Each ``*.md`` file becomes an article: the first ``# heading`` is its title."""
    count = 0
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8", errors="replace")
        heading = _HEADING.search(text)
        title = heading.group(1).strip() if heading else path.stem.replace("-", " ").title()
        body = text[heading.end() :].strip() if heading else text.strip()
        Article.objects.update_or_create(
            slug=slugify(path.stem)[:200], defaults={"title": title, "body": body}
        )
        count += 1
    record_audit(
        action="knowledge.article.import",
        user=user,
        object_type="article",
        summary=f"{count} articles from {folder.name}",
    )
    return count
