from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from heedful.surveys import instruments
from heedful.surveys.models import DEFAULT_K, Recurrence

PRESETS = {"pulse": instruments.PULSE, "culture": instruments.CULTURE_CHECK}


class SurveyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    preset = forms.ChoiceField(
        label=_("Questions"),
        required=False,
        choices=[
            ("", _("The questions ticked below")),
            ("pulse", _("Pulse: eNPS, engagement, wellbeing, workload and a comment")),
            ("culture", _("Culture check: the seven-item psychological safety scale and a comment")),
        ],
        help_text=_("The culture check is scored 1 to 7 and explained in plain words on the results page."),
    )
    question_codes = forms.MultipleChoiceField(
        label=_("Or these questions"),
        required=False,
        choices=[
            (q.code, f"{instruments.INSTRUMENTS[q.instrument].name}: {q.text}")
            for q in instruments.QUESTIONS.values()
        ],
        widget=forms.CheckboxSelectMultiple,
        initial=instruments.PULSE,
    )
    k = forms.IntegerField(label=_("Minimum group size (k)"), min_value=3, initial=DEFAULT_K)
    recurrence = forms.ChoiceField(label=_("Repeats"), choices=Recurrence.choices)
    round_days = forms.IntegerField(
        label=_("Days each round stays open"), min_value=1, max_value=60, initial=7
    )
    first_round_on = forms.DateField(
        label=_("First round opens"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        preset = data.pop("preset", "")
        if preset:
            data["question_codes"] = list(PRESETS[preset])
        elif not data.get("question_codes"):
            self.add_error("question_codes", _("Choose a set of questions or tick at least one."))
        return data


class AnswerForm(forms.Form):
    """One field per question; every question may be skipped."""

    def __init__(self, *args: Any, question_codes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code in question_codes:
            q = instruments.QUESTIONS[code]
            if q.free_text:
                self.fields[code] = forms.CharField(
                    label=q.text, required=False, widget=forms.Textarea(attrs={"rows": 3})
                )
            else:
                choices = [("", "—")] + [(str(v), str(v)) for v in range(q.low, q.high + 1)]
                self.fields[code] = forms.ChoiceField(
                    label=q.text,
                    required=False,
                    choices=choices,
                    widget=forms.RadioSelect,
                    help_text=_("%(low)s = strongly disagree … %(high)s = strongly agree")
                    % {"low": q.low, "high": q.high}
                    if code != "enps"
                    else _("0 = not at all likely … 10 = extremely likely"),
                )
