from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply"), widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)
    faq_entry = forms.IntegerField(required=False, widget=forms.HiddenInput)


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Internal note"), widget=forms.Textarea(attrs={"rows": 2}), max_length=5000
    )


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200, required=False)
    email = forms.EmailField(label=_("Your email address"))
    subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    text = forms.CharField(
        label=_("Your message"), widget=forms.Textarea(attrs={"rows": 6}), max_length=10000
    )


class CannedResponseForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=100)
    shortcut = forms.SlugField(
        label=_("Shortcut"),
        max_length=40,
        required=False,
        help_text=_("A short name to insert it quickly, like “refund” (letters, digits, - and _)."),
    )
    body = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=10000,
        help_text=_(
            'Tokens are filled in for the conversation, e.g. {{ customer.first_name|default:"there" }}.'
        ),
    )
