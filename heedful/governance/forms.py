from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from heedful.governance.actions import all_action_types
from heedful.governance.models import PolicyMode


class DecisionFilterForm(forms.Form):
    subject_type = forms.CharField(label=_("Subject type"), required=False, max_length=30)
    subject_id = forms.CharField(label=_("Subject id"), required=False, max_length=64)
    actor = forms.CharField(label=_("Rule or model"), required=False, max_length=100)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Who"), required=False, max_length=200)
    action = forms.CharField(
        label=_("Action"), required=False, max_length=100, help_text=_("For example action.approve")
    )
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=50)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("The first day comes after the last day."))
        return cleaned


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Why not?"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required. The reason is kept with the decision and teaches the automation."),
    )


class EditParamsForm(forms.Form):
    """The editable details of one proposal; each field's type follows the proposed value."""

    def __init__(self, editable: Sequence[tuple[str, Any]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, value in editable:
            self.fields[name] = _field_for(name, value)

    def edited_params(self, current: dict[str, Any]) -> dict[str, Any]:
        """Only what the person changed, so the audit log shows a real edit, not a rewrite."""
        return {name: value for name, value in self.cleaned_data.items() if current.get(name) != value}


def _field_for(name: str, value: Any) -> forms.Field:
    label = name.replace("_", " ").capitalize()
    if isinstance(value, bool):
        return forms.BooleanField(label=label, required=False, initial=value)
    if isinstance(value, int):
        return forms.IntegerField(label=label, initial=value)
    if isinstance(value, float):
        return forms.FloatField(label=label, initial=value)
    text = "" if value is None else str(value)
    widget = forms.Textarea(attrs={"rows": 3}) if len(text) > 60 or "\n" in text else forms.TextInput()
    return forms.CharField(label=label, initial=text, widget=widget)


class PolicyForm(forms.Form):
    action_type = forms.ChoiceField(label=_("Action"), widget=forms.HiddenInput)
    mode = forms.ChoiceField(label=_("Policy"), choices=PolicyMode.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action_type"].choices = [(kind.name, kind.label) for kind in all_action_types()]  # type: ignore[attr-defined]
