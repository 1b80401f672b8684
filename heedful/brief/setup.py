"""The owner's setup list on the home page: what a new installation still lacks, in order.

Each step is read from the data (no box to tick by hand), so the list is right after an import
or a configuration change, and it goes away once everything is done or the owner hides it.
Steps that are server settings say which variables to set, since no page can set them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from heedful.outgoing_mail import mail_is_delivered


@dataclass(frozen=True)
class SetupStep:
    key: str
    title: str
    detail: str  # what to do, in words
    url: str  # where to do it; "" for a server setting
    done: bool


def setup_steps() -> list[SetupStep]:
    from heedful.accounts.models import User
    from heedful.inbox.conf import imap
    from heedful.inbox.models import Channel, Conversation
    from heedful.knowledge.models import FaqEntry
    from heedful.people.models import Employee
    from heedful.workflows.models import WorkflowDefinition

    return [
        SetupStep(
            "mail",
            _("Let heedful send email"),
            _(
                "Set EMAIL_HOST, EMAIL_HOST_USER and EMAIL_HOST_PASSWORD where heedful starts, then "
                "start it again. Until then invitations, replies to customers and reminders are "
                "written to the sent-mail folder of the data directory instead of sent."
            ),
            "",
            mail_is_delivered(),
        ),
        SetupStep(
            "team",
            _("Invite your team"),
            _("Give each person their own account and role: agents work the inbox, HR the people pages."),
            reverse("accounts:user-list"),
            User.objects.filter(is_active=True).count() > 1,
        ),
        SetupStep(
            "knowledge",
            _("Teach the bot your answers"),
            _(
                "Add the questions customers ask most, with their answers, or import them from a CSV "
                "file. The bot answers only what it is sure of and hands the rest to a person."
            ),
            reverse("knowledge:entry-list"),
            FaqEntry.objects.filter(is_active=True).exists(),
        ),
        SetupStep(
            "chat",
            _("Put the chat on your website"),
            _(
                "Add the one-line script tag shown on the demo page to your site, and set "
                "HEEDFUL_WIDGET_ALLOWED_ORIGINS to your site's address (https://shop.example)."
            ),
            reverse("inbox:widget-demo"),
            Conversation.objects.filter(channel=Channel.CHAT).exists(),
        ),
        SetupStep(
            "mailbox",
            _("Connect your support mailbox"),
            _(
                "Set HEEDFUL_IMAP_HOST, HEEDFUL_IMAP_USER and HEEDFUL_IMAP_PASSWORD: customers' "
                "emails then arrive in the inbox, threaded with the replies."
            ),
            "",
            bool(imap()["host"]),
        ),
        SetupStep(
            "people",
            _("Add your employees"),
            _("For leave requests, onboarding checklists and anonymous pulse surveys."),
            reverse("people:hire"),
            Employee.objects.exists(),
        ),
        SetupStep(
            "workflow",
            _("Turn on an automation"),
            _(
                "Start from a template (order updates, follow-ups, onboarding), try it with a dry "
                "run on past events, then turn it on. Its actions wait for approval until you say."
            ),
            reverse("workflows:gallery"),
            WorkflowDefinition.objects.filter(enabled=True).exists(),
        ),
    ]
