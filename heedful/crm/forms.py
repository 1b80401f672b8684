from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from heedful.crm.importing import MAX_IMPORT_BYTES, TAG_SEPARATOR


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=50)


class ContactForm(forms.Form):
    """The fields a person edits; the services check uniqueness and lengths again."""

    first_name = forms.CharField(label=_("First name"), required=False, max_length=100)
    last_name = forms.CharField(label=_("Last name"), required=False, max_length=100)
    email = forms.EmailField(label=_("Email"), required=False, max_length=254)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=40)
    company_name = forms.CharField(label=_("Company"), required=False, max_length=200)
    postcode = forms.CharField(label=_("Postcode"), required=False, max_length=20)
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=500,
        help_text=_("Separate tags with “;”."),
    )

    def clean_tags(self) -> list[str]:
        raw: str = self.cleaned_data["tags"]
        return [t.strip() for t in raw.split(TAG_SEPARATOR) if t.strip()]

    @classmethod
    def initial_for(cls, contact: Any) -> dict[str, Any]:
        return {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "phone": contact.phone,
            "company_name": contact.company.name if contact.company else "",
            "postcode": contact.postcode,
            "tags": f"{TAG_SEPARATOR} ".join(t.name for t in contact.tags.all()),
        }


class NoteForm(forms.Form):
    body = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class ImportForm(forms.Form):
    ALL_OR_NOTHING = "all"
    GOOD_ROWS = "good"

    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8, a header line, at most 10 MB."))
    mode = forms.ChoiceField(
        label=_("If some rows have errors"),
        choices=[
            (ALL_OR_NOTHING, _("Import nothing, so I can fix the file first")),
            (GOOD_ROWS, _("Import the good rows and list the bad ones")),
        ],
        initial=ALL_OR_NOTHING,
        widget=forms.RadioSelect,
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("The file is larger than 10 MB. Split it into smaller files."))
        return upload
