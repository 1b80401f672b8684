from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from heedful.workflows.definition import DefinitionError
from heedful.workflows.transfer import parse


class WorkflowForm(forms.Form):
    """A workflow as a document: JSON or YAML, validated with every problem shown by its path."""

    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    document = forms.CharField(
        label=_("Definition (JSON or YAML)"),
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
    )
    note = forms.CharField(label=_("What changed (for the version history)"), required=False, max_length=200)

    def clean_document(self) -> dict[str, Any]:
        try:
            definition: dict[str, Any] = parse(self.cleaned_data["document"])["definition"]
            return definition
        except DefinitionError as exc:
            raise forms.ValidationError(exc.errors) from None


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Workflow file (.json or .yaml)"), required=False)
    text = forms.CharField(label=_("…or paste it"), required=False, widget=forms.Textarea(attrs={"rows": 10}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        text = upload.read().decode("utf-8", errors="replace") if upload else data.get("text", "")
        if not text.strip():
            raise forms.ValidationError(_("Choose a file or paste a workflow."))
        try:
            data["document"] = parse(text)
        except DefinitionError as exc:
            raise forms.ValidationError(exc.errors) from None
        return data


class DryRunForm(forms.Form):
    days = forms.IntegerField(label=_("Days of past events"), min_value=1, max_value=365, initial=30)
