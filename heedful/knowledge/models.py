"""The knowledge base: FAQ entries the bot may answer with, and longer articles they cite."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Article(models.Model):
    """A longer help text; FAQ answers link to it so the customer can read more."""

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class FaqEntry(models.Model):
    """One question the business answers the same way every time.

    ``variants`` holds other ways customers ask it, one per line; the matcher trains on the
    question and all variants. The counters feed the "needs attention" page: an entry customers
    mark unhelpful, or that agents keep answering by hand, needs a better answer.
    """

    question = models.CharField(_("question"), max_length=300)
    variants = models.TextField(_("other ways to ask"), blank=True, help_text=_("One per line."))
    answer = models.TextField(_("answer"))
    article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="faq_entries"
    )
    article_url = models.URLField(_("article link"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    helpful_count = models.PositiveIntegerField(default=0)
    unhelpful_count = models.PositiveIntegerField(default=0)
    answered_by_hand_count = models.PositiveIntegerField(default=0)
    # One more on every save, so the matcher's fingerprint (knowledge/matching.py) sees each
    # edit in every process, whatever the clocks say. The counters above move by update() and
    # leave it alone: they are not what the matcher trains on.
    revision = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["question"]
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")

    def __str__(self) -> str:
        return self.question

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is None:
            self.revision = 1
            super().save(*args, **kwargs)
            return
        # Counted by the database, so two people saving the same entry at once add two.
        self.revision = models.F("revision") + 1
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "revision"}
        super().save(*args, **kwargs)
        self.refresh_from_db(fields=["revision"])

    def variant_list(self) -> list[str]:
        return [line.strip() for line in self.variants.splitlines() if line.strip()]

    def link(self) -> str:
        """Where the customer can read more, or ""."""
        if self.article_url:
            return self.article_url
        article = self.article
        if article is not None:
            from django.conf import settings
            from django.urls import reverse

            site = str(getattr(settings, "SITE_URL", "")).rstrip("/")
            return site + reverse("knowledge:article", args=[article.slug])
        return ""


class BotCaution(models.Model):
    """How careful the owner wants the FAQ bot to be: the share of wrong answers its threshold is
    calibrated for. One row (pk 1); without it the default holds. A change retrains the matcher,
    because the threshold is chosen at training time from held-out ways of asking."""

    class Level(models.IntegerChoices):
        VERY_CAREFUL = (
            1,
            _("Very careful: at most 1 in 100 answers wrong"),
        )
        CAREFUL = 2, _("Careful: at most 2 in 100 answers wrong")
        STANDARD = 5, _("Standard: at most 5 in 100 answers wrong (answers the most)")

    DEFAULT = Level.STANDARD

    wrong_answers_per_100 = models.PositiveSmallIntegerField(
        _("wrong answers allowed per 100"), choices=Level.choices, default=DEFAULT
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"at most {self.wrong_answers_per_100} wrong answers in 100"


class UncoveredQuestion(models.Model):
    """A question the knowledge base does not answer, that the bot once answered anyway or
    might: the matcher trains on it as an example of what to hand to a person.

    Near misses (questions about the shop's trade that no entry answers, "do you sell coffee
    too?" in a tea shop) look too much like covered ones for any threshold to separate them;
    a few marked by people teach the bot that part of the trade is not covered.
    """

    text = models.CharField(_("question"), max_length=1000)
    # The words alone (heedful.ml.text.phrase_key): the same question asked twice is one row.
    key = models.CharField(max_length=1000, unique=True, editable=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)
    # The entry the bot answered it with, when an agent marked a bot answer wrong.
    wrongly_answered_with = models.ForeignKey(
        FaqEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-added_at", "-id"]
        verbose_name = _("question the knowledge base does not cover")

    def __str__(self) -> str:
        return self.text
