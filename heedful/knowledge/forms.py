from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from heedful.knowledge.models import BotCaution, FaqEntry


class FaqEntryForm(forms.Form):
    question = forms.CharField(label=_("Question"), max_length=300)
    variants = forms.CharField(
        label=_("Other ways to ask"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One per line. The more ways customers really ask, the more the bot can answer."),
    )
    answer = forms.CharField(label=_("Answer"), widget=forms.Textarea(attrs={"rows": 5}))
    article_url = forms.URLField(label=_("Link for “Read more”"), required=False, assume_scheme="https")

    @staticmethod
    def initial_for(entry: FaqEntry) -> dict[str, Any]:
        return {
            "question": entry.question,
            "variants": entry.variants,
            "answer": entry.answer,
            "article_url": entry.article_url,
        }

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "question": data["question"],
            "answer": data["answer"],
            "variants": data["variants"].splitlines(),
            "article_url": data["article_url"],
        }


class BotCautionForm(forms.Form):
    wrong_answers_per_100 = forms.TypedChoiceField(
        label=_("How careful the bot is"),
        choices=BotCaution.Level.choices,
        coerce=int,
        help_text=_(
            "The bot picks the confidence it answers at so that, on ways of asking it has not seen, "
            "no more of its answers are wrong than this. It relearns after a change."
        ),
    )


class UncoveredQuestionForm(forms.Form):
    text = forms.CharField(
        label=_("A question the knowledge base does not answer"),
        max_length=1000,
        help_text=_(
            "As a customer asked it. The bot hands this question, and questions like it, to a person."
        ),
    )
