"""The one door to the text engine's FAQ matcher (heedful.ml).

Trains the matcher from the active FAQ entries, keeps it per knowledge-base *version* (a hash of
what it was trained on, so any edit retrains and nothing stale answers), and persists it under
the data directory when the engine can save itself. When the engine is missing or fails, the
result says so and carries no answer: the caller hands the conversation to a person (promise 1).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import inspect
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from heedful.knowledge.models import BotCaution, FaqEntry, UncoveredQuestion

log = logging.getLogger(__name__)

ENGINE_UNAVAILABLE = "text engine unavailable"
NO_ENTRIES = "the knowledge base has no entries"
RELEARNING = "the bot is still relearning the knowledge base after an edit"


@dataclass(frozen=True)
class MatchResult:
    """What the matcher decided for one question, in the terms a decision record needs."""

    entry_id: int | None
    confidence: float
    threshold: float
    explanation: str
    engine_version: str = ""
    unavailable_reason: str = ""
    candidates: list[tuple[int, float]] = field(default_factory=list)

    @property
    def confident(self) -> bool:
        return self.entry_id is not None and not self.unavailable_reason


_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _engine() -> Any | None:
    """The engine's matcher class, or None while heedful.ml has none."""
    for module_name in ("heedful.ml.faq", "heedful.ml"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        matcher_class = getattr(module, "FaqMatcher", None)
        if matcher_class is not None:
            return matcher_class
    return None


@dataclass(frozen=True)
class _KnownBase:
    stamp: tuple[Any, ...]
    examples: list[tuple[str, str]]
    version: str
    entries: dict[int, FaqEntry]
    wrong_answers_per_100: int = BotCaution.DEFAULT
    # Questions people marked as not covered (UncoveredQuestion): trained as out-of-scope examples.
    uncovered: tuple[str, ...] = ()


_known: _KnownBase | None = None


def _stamp() -> tuple[Any, ...]:
    """A one-row fingerprint of the entries: it changes when one is added, deleted, edited or
    (de)activated, in any process, because the database is what every process shares.

    Count and id sum catch additions and deletions (ids are never reused); the sum of
    ``revision``, which every ``save()`` raises by one, catches edits. Edits go through
    ``save()`` (services, imports); the counters that ``update()`` moves are not training data.
    """
    meta, quote = FaqEntry._meta, connection.ops.quote_name
    pk, revision = quote(str(meta.pk.column)), quote(str(meta.get_field("revision").column))
    caution, uncovered = BotCaution._meta, UncoveredQuestion._meta
    wrong = quote(str(caution.get_field("wrong_answers_per_100").column))
    uncovered_table, uncovered_pk = quote(uncovered.db_table), quote(str(uncovered.pk.column))
    # Plain SQL, names from the model: the ORM's aggregate() spends 0.2 ms of Python building
    # what SQLite answers in 0.01 ms, on every customer message. The owner's caution rides along:
    # changing it retrains too.
    sql = (
        f"SELECT COUNT(*), SUM({pk}), SUM({revision}), "  # noqa: S608
        f"(SELECT {wrong} FROM {quote(caution.db_table)} WHERE {quote(str(caution.pk.column))} = 1), "
        # Questions marked as not covered are only added and removed, and ids are never reused.
        f"(SELECT COUNT(*) FROM {uncovered_table}), (SELECT SUM({uncovered_pk}) FROM {uncovered_table}) "
        f"FROM {quote(meta.db_table)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return (*row, _encoder())


def current_examples() -> tuple[list[tuple[str, str]], str]:
    """The training examples and their version, read again only when the stamp changed."""
    known = _current()
    return known.examples, known.version


def _current() -> _KnownBase:
    global _known
    stamp = _stamp()
    known = _known
    if known is None or known.stamp != stamp:
        # Read after the stamp: an edit committed in between makes the next stamp differ, so a
        # newer base kept under an older stamp is read once more, never served stale.
        entries = list(FaqEntry.objects.filter(is_active=True).select_related("article").order_by("pk"))
        examples = _examples_of(entries)
        wrong = int(stamp[3] or BotCaution.DEFAULT)
        uncovered = tuple(UncoveredQuestion.objects.order_by("pk").values_list("text", flat=True))
        known = _KnownBase(
            stamp,
            examples,
            kb_version(examples, wrong, uncovered),
            {e.pk: e for e in entries},
            wrong,
            uncovered,
        )
        _known = known
    return known


def active_entry(entry_id: int | None) -> FaqEntry | None:
    """The active entry the matcher was trained with, from the same read as its examples (no
    query). Shared between requests: read it, never change it."""
    known = _known
    return known.entries.get(entry_id) if known is not None and entry_id is not None else None


def _examples_of(entries: list[FaqEntry]) -> list[tuple[str, str]]:
    examples: list[tuple[str, str]] = []
    for entry in entries:
        examples.append((entry.question, str(entry.pk)))
        examples.extend((line.strip(), str(entry.pk)) for line in entry.variants.splitlines() if line.strip())
    return examples


def training_examples() -> list[tuple[str, str]]:
    """(text, entry id) pairs: each active entry's question and its variants."""
    return _examples_of(list(FaqEntry.objects.filter(is_active=True).order_by("pk")))


def _encoder() -> str:
    """``HEEDFUL_FAQ_ENCODER``: the engine's encoder ("tfidf", "minilm", …); "" for its default."""
    return str(getattr(settings, "HEEDFUL_FAQ_ENCODER", "") or "")


# How the engine chooses the threshold (heedful.ml.threshold): part of the version, so that a
# matcher kept on disk by an earlier procedure is trained again rather than keep a threshold
# that promised fewer wrong answers than it gave. 2: one wrong answer more at every cut,
# ASSUMED_OFF_TOPIC_SHARE, and answers left out of calibration fits from four answers on, not
# ten (session 20).
CALIBRATION_PROCEDURE = 2


def kb_version(
    examples: list[tuple[str, str]],
    wrong_answers_per_100: int = BotCaution.DEFAULT,
    uncovered: Sequence[str] = (),
) -> str:
    digest = hashlib.sha256(_encoder().encode())
    digest.update(f"calibration\x1f{CALIBRATION_PROCEDURE}\x1e".encode())
    if wrong_answers_per_100 != BotCaution.DEFAULT:
        # Only a changed caution enters the hash: matchers trained before the setting existed
        # keep their names, so an upgrade does not retrain them.
        digest.update(f"wrong-per-100\x1f{wrong_answers_per_100}\x1e".encode())
    for text, label in examples:
        digest.update(f"{label}\x1f{text}\x1e".encode())
    for text in uncovered:  # none: the version of a base from before the list existed
        digest.update(f"\x1duncovered\x1f{text}\x1e".encode())
    return digest.hexdigest()[:16]


def _artefact_path(version: str) -> Path:
    return Path(getattr(settings, "DATA_DIR", "data")) / "knowledge" / f"faq-matcher-{version}.hml"


def _trained(
    engine: Any,
    examples: list[tuple[str, str]],
    version: str,
    wrong_answers_per_100: int = BotCaution.DEFAULT,
    uncovered: Sequence[str] = (),
) -> Any:
    with _lock:
        if version in _cache:
            return _cache[version]
        path = _artefact_path(version)
        matcher = _load_kept(engine, path)
        if matcher is None:
            with _one_trainer(path.parent):
                # Another process may have trained this version while this one waited.
                matcher = _load_kept(engine, path)
                if matcher is None:
                    matcher = _train_and_keep(engine, examples, path, wrong_answers_per_100, uncovered)
        _cache.clear()  # only the current version is worth memory
        _cache[version] = matcher
        return matcher


def _load_kept(engine: Any, path: Path) -> Any | None:
    if not (path.exists() and hasattr(engine, "load")):
        return None
    try:
        return engine.load(path)
    except Exception:  # a stale or damaged file is rebuilt, never trusted
        log.warning("Retraining the FAQ matcher: %s could not be loaded", path, exc_info=True)
        return None


def _train_and_keep(
    engine: Any,
    examples: list[tuple[str, str]],
    path: Path,
    wrong_answers_per_100: int,
    uncovered: Sequence[str] = (),
) -> Any:
    options: dict[str, Any] = {}
    if uncovered and "oos_examples" in inspect.signature(engine.train).parameters:
        options["oos_examples"] = list(uncovered)
        if "calibrate_on_oos" in inspect.signature(engine.train).parameters:
            # Chosen near misses, not a sample of off-topic traffic: trained on, not calibrated on.
            options["calibrate_on_oos"] = False
    if "previous" in inspect.signature(engine.train).parameters:
        options["previous"] = _previous(engine)
    if _encoder():
        options["encoder"] = _encoder()
    if "target_wrong_rate" in inspect.signature(engine.train).parameters:
        options["target_wrong_rate"] = wrong_answers_per_100 / 100
    if "oos_share" in inspect.signature(engine.train).parameters:
        # The knowledge base has no examples of what it does not cover; customers ask about it
        # anyway (see ASSUMED_OFF_TOPIC_SHARE).
        from heedful.ml.threshold import ASSUMED_OFF_TOPIC_SHARE

        options["oos_share"] = ASSUMED_OFF_TOPIC_SHARE
    matcher = engine.train(examples, **options)
    if hasattr(matcher, "save"):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            matcher.save(path)
            _summary_path(path).write_text(json.dumps(_summary_of(matcher), sort_keys=True), encoding="utf-8")
            _prune_kept(path)
        except OSError:
            log.warning("Could not keep the FAQ matcher at %s", path, exc_info=True)
    return matcher


TRAINING_LOCK = "training.lock"


@contextlib.contextmanager
def _one_trainer(directory: Path) -> Iterator[None]:
    """One process of an installation trains at a time; the others wait, then load its file.

    After an edit, the worker warming the new version and a web process answering a chat
    question both find its file missing. Each used to train it: twice the work on the same two
    cores, so the question waited about twice as long, and both wrote the same file. The lock is
    the kernel's (flock): a process that dies while training releases it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / TRAINING_LOCK, "a+b")  # noqa: SIM115 - held across the yield
    except OSError:
        log.warning("No training lock in %s; training without one", directory, exc_info=True)
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Matchers kept on disk: the current one and the one before it, which a process that has not
# yet seen the edit may still be loading. A 10,000-variant matcher is ~65 MB, and every edit
# writes a new one.
KEEP_VERSIONS = 2


def _prune_kept(current: Path) -> None:
    kept = sorted(current.parent.glob("faq-matcher-*.hml"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [p for p in kept if p != current][KEEP_VERSIONS - 1 :]:
        old.unlink(missing_ok=True)
        _summary_path(old).unlink(missing_ok=True)


def _summary_path(artefact: Path) -> Path:
    return artefact.with_suffix(".json")


def _summary_of(matcher: Any) -> dict[str, Any]:
    calibration = getattr(matcher, "calibration", None)
    return {
        "threshold": float(getattr(matcher, "threshold", 0.0)),
        "calibration": dict(calibration) if isinstance(calibration, dict) else {},
    }


@dataclass(frozen=True)
class BotCalibration:
    """How the FAQ bot chose the confidence it answers at, in the owner's terms."""

    threshold: float
    target_wrong_rate: float
    wrong_rate: float
    tried_on: int  # held-out phrasings the bot had not seen
    off_topic: int  # of those, questions about answers it had not been taught
    thin: bool
    coverage: float = 0.0  # of the others (about what it was taught), the share it answered

    @property
    def target_percent(self) -> str:
        return f"{100 * self.target_wrong_rate:g}"

    @property
    def wrong_percent(self) -> str:
        return f"{100 * self.wrong_rate:.1f}"

    @property
    def answered_percent(self) -> str:
        return f"{100 * self.coverage:.0f}"

    @property
    def too_few_for_the_caution(self) -> bool:
        """Enough held-out questions to calibrate on, but too few to show the owner's caution:
        the matcher stayed at the cautious floor (a thin knowledge base has under 50)."""
        from heedful.ml.threshold import MIN_CALIBRATION_QUESTIONS

        return self.thin and self.tried_on >= MIN_CALIBRATION_QUESTIONS

    @property
    def answers_own_words_only(self) -> bool:
        """No confidence met the owner's caution on the held-out questions: the bot answers
        only questions asked in an entry's own words (the engine's exact-phrasing rule)."""
        return self.threshold >= 1.0


def bot_calibration() -> BotCalibration | None:
    """The current knowledge base's calibration, or None while it is being trained.

    Read from the matcher in this process's memory or from the small summary saved beside it:
    a page view must never train a matcher."""
    examples, version = current_examples()
    if not examples:
        return None
    matcher = _cache.get(version)
    if matcher is not None:
        summary = _summary_of(matcher)
    else:
        try:
            summary = json.loads(_summary_path(_artefact_path(version)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
    calibration = summary.get("calibration") or {}
    if "n_in_scope" not in calibration:
        return None
    return BotCalibration(
        threshold=float(summary["threshold"]),
        target_wrong_rate=float(calibration.get("target_wrong_rate", 0.0)),
        wrong_rate=float(calibration.get("wrong_rate", 0.0)),
        tried_on=int(calibration["n_in_scope"]) + int(calibration.get("n_out_of_scope", 0)),
        off_topic=int(calibration.get("n_out_of_scope", 0)),
        thin=bool(calibration.get("thin", False)),
        coverage=float(calibration.get("coverage", 0.0)),
    )


def _previous(engine: Any) -> Any | None:
    """The matcher the new one replaces (the newest kept on disk, from memory when this process
    holds it): the engine reuses its sentence embeddings and starts its solver there, so
    retraining after an edit costs a fraction of a fit from scratch. None when there is none or
    it cannot be read.

    The one in memory may be older than the newest on disk: Celery's pool hands each retrain to
    any of its processes, and one that last trained the demo's 8 entries still held them after
    another had trained a 2,000-entry import. Started from those, the next edit re-encoded every
    phrasing and took as long as the import's training."""
    kept = sorted(_artefact_path("").parent.glob("faq-matcher-*.hml"), key=lambda p: p.stat().st_mtime)
    for version, matcher in list(_cache.items()):
        in_memory = _artefact_path(version)
        if not kept or kept[-1] == in_memory or not in_memory.exists():  # newest, or never saved
            return matcher
    if not kept:
        return None
    try:
        return engine.load(kept[-1])
    except Exception:  # only a head start: a damaged file means a fit from scratch
        log.warning("Not reusing %s for the retrain: it could not be loaded", kept[-1], exc_info=True)
        return None


def warm() -> str:
    """Train or load the matcher for the current knowledge base; returns its version ("" if none)."""
    engine = _engine()
    if engine is None:
        return ""
    known = _current()
    if not known.examples:
        return ""
    _trained(engine, known.examples, known.version, known.wrong_answers_per_100, known.uncovered)
    return known.version


# Background trainings of this process, by knowledge-base version.
_warming: dict[str, threading.Thread] = {}
_warming_guard = threading.Lock()


def ready(wait: float | None = None) -> bool:
    """Have the matcher for the knowledge base as it is now loaded, waiting at most ``wait``
    seconds (None: as long as it takes). True when it is (or there is nothing to load).

    When the wait runs out, the loading or training goes on in a thread of this process, and
    :func:`match_question` hands questions to a person until it is done. A customer in the chat
    waited 162 s for a 2,000-entry knowledge base to retrain after an import: long enough for a
    reverse proxy to give up on the request and for the customer to leave. The database is not
    read in the thread: the caller reads the examples (so a test's transaction is seen, too)."""
    engine = _engine()
    if engine is None:
        return True  # nothing to wait for: the match hands off and says why
    known = _current()
    if not known.examples or known.version in _cache:
        return True
    if wait is None:
        _trained(engine, known.examples, known.version, known.wrong_answers_per_100, known.uncovered)
        return True
    _warm_in_background(engine, known).join(max(wait, 0.0))
    return known.version in _cache


def _warm_in_background(engine: Any, known: _KnownBase) -> threading.Thread:
    with _warming_guard:
        for version in [v for v, t in _warming.items() if not t.is_alive()]:
            del _warming[version]
        thread = _warming.get(known.version)
        if thread is None:
            thread = threading.Thread(
                target=_warm_quietly, args=(engine, known), name=f"faq-matcher-{known.version}", daemon=True
            )
            _warming[known.version] = thread
            thread.start()
        return thread


def _warm_quietly(engine: Any, known: _KnownBase) -> None:
    try:
        _trained(engine, known.examples, known.version, known.wrong_answers_per_100, known.uncovered)
    except Exception:  # the next question tries again, and hands off if it fails too
        log.exception("Could not ready the FAQ matcher %s", known.version)


def _being_trained(version: str) -> bool:
    """Whether the matcher for ``version`` is being trained, here or by another process (the
    worker after an edit), and so would keep a question waiting."""
    thread = _warming.get(version)
    if thread is not None and thread.is_alive():
        return True
    path = _artefact_path(version)
    return not path.exists() and _training_elsewhere(path.parent)


def _training_elsewhere(directory: Path) -> bool:
    """Whether any process (this one's other threads included) holds the training lock now."""
    try:
        handle = open(directory / TRAINING_LOCK, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return False  # no lock file: nobody has trained here yet
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def forget_trained() -> None:
    """Drop the in-memory matcher and examples (tests; a worker after a KB import)."""
    global _known
    with _lock:
        _cache.clear()
        _known = None
    with _warming_guard:
        _warming.clear()


def _unavailable(reason: str) -> MatchResult:
    return MatchResult(
        entry_id=None, confidence=0.0, threshold=1.0, explanation=reason, unavailable_reason=reason
    )


def match_question(text: str) -> MatchResult:
    """Ask the matcher which FAQ entry answers ``text``; entry_id is None when it is not confident.

    While the matcher for the current knowledge base is being trained (see :func:`ready`), the
    result is unavailable (``RELEARNING``) instead of a wait. Otherwise a missing matcher is
    loaded or trained here."""
    engine = _engine()
    if engine is None:
        return _unavailable(ENGINE_UNAVAILABLE)
    known = _current()
    if not known.examples:
        return _unavailable(NO_ENTRIES)
    matcher = _cache.get(known.version)
    if matcher is None and _being_trained(known.version):
        # Waiting here would keep the customer (and, inside a transaction, every writer)
        # waiting for the whole retrain; a person answers instead, and the reason is recorded.
        return _unavailable(RELEARNING)
    try:
        if matcher is None:
            matcher = _trained(
                engine, known.examples, known.version, known.wrong_answers_per_100, known.uncovered
            )
        found = matcher.match(text)
    except Exception:
        # The bot must never answer on a broken engine; log it and hand off.
        log.exception("The FAQ matcher failed")
        return _unavailable(ENGINE_UNAVAILABLE)
    return _to_result(found)


def _to_result(found: Any) -> MatchResult:
    label = getattr(found, "answer_id", None)
    if label is None:
        label = getattr(found, "label", None)
    entry_id = int(label) if label not in (None, "") else None
    raw_candidates = getattr(found, "candidates", None) or getattr(found, "top", None) or []
    candidates = []
    for item in raw_candidates:
        if isinstance(item, tuple | list):
            cand_label, score = item[0], item[1]
        else:
            cand_label, score = item.answer_id, getattr(item, "confidence", getattr(item, "score", 0.0))
        if cand_label not in (None, ""):
            candidates.append((int(cand_label), float(score)))
    explanation = getattr(found, "explanation", None) or getattr(found, "reason", "") or ""
    if not isinstance(explanation, str):
        explanation = "; ".join(str(part) for part in explanation)
    neighbours = getattr(found, "neighbours", ()) or ()
    if neighbours:
        closest = neighbours[0]
        explanation = f"{explanation}; closest example: “{closest.text}” ({closest.similarity:.2f})".lstrip(
            "; "
        )
    return MatchResult(
        entry_id=entry_id,
        confidence=float(getattr(found, "confidence", 0.0)),
        threshold=float(getattr(found, "threshold", 1.0)),
        explanation=explanation,
        engine_version=str(getattr(found, "model_version", "") or getattr(found, "version", "")),
        candidates=candidates,
    )


def suggest_entries(text: str, limit: int = 3) -> list[tuple[FaqEntry, float]]:
    """The top knowledge-base entries for an agent to consider (agent assist), best first."""
    result = match_question(text)
    ranked: list[tuple[int, float]] = list(result.candidates)
    if result.entry_id is not None and all(pk != result.entry_id for pk, _ in ranked):
        ranked.insert(0, (result.entry_id, result.confidence))
    ranked = ranked[:limit]
    entries = FaqEntry.objects.in_bulk([pk for pk, _ in ranked])
    return [(entries[pk], score) for pk, score in ranked if pk in entries]
