"""Conversations with customers, their messages, and the shop data the bot may answer from."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat")
    FORM = "form", _("Web form")
    API = "api", _("API")


class Status(models.TextChoices):
    BOT = "bot", _("Bot")
    OPEN = "open", _("Open")
    WAITING = "waiting", _("Waiting on customer")
    RESOLVED = "resolved", _("Resolved")


class Conversation(models.Model):
    """One thread with one customer on one channel.

    ``status`` is who holds it: ``bot`` until the bot hands off (or an agent takes it), then
    people. ``human_has_replied`` is the bot's stop sign: once set, the bot stays silent until
    an agent hands the conversation back.
    """

    # The CRM contact. Read and written through heedful/inbox/contacts.py (crm's services),
    # mostly as ``contact_id``. Erasing a contact (crm.erasure) deletes its conversations with
    # it (heedful/inbox/erasure.py); SET_NULL only covers a contact row deleted some other way.
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    customer_email = models.EmailField(blank=True, db_index=True)
    customer_name = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    subject = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.BOT, db_index=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    tags = models.JSONField(default=list, blank=True)
    human_has_replied = models.BooleanField(default=False)
    bot_answers_unconfirmed = models.PositiveSmallIntegerField(default=0)
    failed_order_checks = models.PositiveSmallIntegerField(default=0)
    # Order details the chat visitor gave to prove ownership (number plus email or postcode).
    verified_order_number = models.CharField(max_length=64, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    # Triage, kept on the conversation so the inbox sorts with one indexed query.
    priority = models.FloatField(default=0.0, db_index=True)
    priority_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "-created_at"]
        # The inbox's mailbox-like views read the latest first and stop after a page.
        indexes = [
            models.Index(fields=["-updated_at", "-id"], name="inbox_conversation_activity"),
            models.Index(fields=["status", "-resolved_at", "-id"], name="inbox_conversation_resolved"),
        ]

    def __str__(self) -> str:
        who = self.customer_name or self.customer_email or _("visitor")
        return f"#{self.pk} {who}: {self.subject or self.get_channel_display()}"

    @property
    def bot_may_answer(self) -> bool:
        return self.status == Status.BOT and not self.human_has_replied

    def first_response_breached(self, now: object = None) -> bool:
        now = now or timezone.now()
        due = self.first_response_due_at
        return bool(due and self.first_responded_at is None and due < now)  # type: ignore[operator]

    def resolution_breached(self, now: object = None) -> bool:
        now = now or timezone.now()
        due = self.resolution_due_at
        return bool(due and self.resolved_at is None and due < now)  # type: ignore[operator]

    def sla_warnings(self, now: datetime | None = None) -> list[str]:
        """The breached SLA timers in plain words, e.g. ``["first reply overdue by 2 h 10 min"]``."""
        from heedful.inbox.hours import overdue_in_words

        if self.status in (Status.BOT, Status.RESOLVED):
            return []  # nobody owes a reply (the bot holds it again) or it is done
        now = now or timezone.now()
        warnings = []
        if self.first_response_breached(now) and self.first_response_due_at:
            warnings.append(f"first reply overdue by {overdue_in_words(now - self.first_response_due_at)}")
        if self.resolution_breached(now) and self.resolution_due_at:
            warnings.append(f"resolution overdue by {overdue_in_words(now - self.resolution_due_at)}")
        return warnings


class Direction(models.TextChoices):
    IN = "in", _("From the customer")
    OUT = "out", _("To the customer")
    INTERNAL = "internal", _("Internal note")


class Author(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    BOT = "bot", _("Bot")
    AGENT = "agent", _("Agent")
    SYSTEM = "system", _("System")


class Delivery(models.TextChoices):
    NONE = "", _("Not sent by email")
    PENDING = "pending", _("Waiting to send")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Message(models.Model):
    """One message in a conversation. ``body`` is plain text (HTML mail is turned into text)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    author_kind = models.CharField(max_length=8, choices=Author.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(blank=True)
    # Chat buttons offered with a bot answer ("helped", "didn't help", "talk to a person").
    actions = models.JSONField(default=list, blank=True)
    faq_entry_id = models.BigIntegerField(null=True, blank=True)
    decision = models.ForeignKey(
        "governance.DecisionRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Email threading.
    email_message_id = models.CharField(max_length=998, blank=True, db_index=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    email_from = models.CharField(max_length=320, blank=True)
    email_date = models.DateTimeField(null=True, blank=True)
    # Where an inbound email came from: mailbox + UIDVALIDITY + UID; unique, so a re-poll
    # never stores the same message twice.
    source_key = models.CharField(max_length=400, null=True, blank=True, unique=True)
    parse_problems = models.JSONField(default=list, blank=True)
    raw_file = models.CharField(max_length=300, blank=True)
    # Outgoing email delivery, retried with back-off; failures stay visible.
    delivery = models.CharField(max_length=8, choices=Delivery.choices, blank=True, default="")
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivery_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Triage of inbound messages.
    intent = models.CharField(max_length=40, blank=True)
    sentiment = models.CharField(max_length=10, blank=True)
    sentiment_score = models.FloatField(null=True, blank=True)
    frustration = models.FloatField(null=True, blank=True)
    urgency = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["delivery", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.get_author_kind_display()}: {self.body[:60]}"

    @property
    def is_visible_to_customer(self) -> bool:
        return self.direction != Direction.INTERNAL


class Attachment(models.Model):
    """A file that came with an email. Files over the size limit are listed but not stored
    (the original stays in the mailbox)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    stored_path = models.CharField(max_length=300, blank=True)
    too_large = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.filename


class ChatVisitor(models.Model):
    """A website visitor, known by a random token kept in their browser. Only its hash is stored."""

    token_hash = models.CharField(max_length=64, unique=True)
    origin = models.CharField(max_length=200, blank=True)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="visitors"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"visitor {self.pk}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()


class MailboxState(models.Model):
    """How far an IMAP mailbox has been read: the highest UID seen under its UIDVALIDITY."""

    key = models.CharField(max_length=300, unique=True)  # host:port/user/mailbox
    uidvalidity = models.BigIntegerField(default=0)
    last_uid = models.BigIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.key


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    stock = models.IntegerField(default=0)
    restock_date = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class OrderStatus(models.TextChoices):
    PLACED = "placed", _("Placed")
    PACKED = "packed", _("Packed")
    SHIPPED = "shipped", _("Shipped")
    DELAYED = "delayed", _("Delayed")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


class Order(models.Model):
    """An order from the shop system. The bot tells its status only to the customer who owns it."""

    number = models.CharField(max_length=64, unique=True)
    customer_email = models.EmailField(db_index=True)
    customer_name = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    carrier = models.CharField(max_length=100, blank=True)
    tracking_url = models.URLField(blank=True)
    expected_delivery = models.DateField(null=True, blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    placed_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at"]

    def __str__(self) -> str:
        return f"Order {self.number}"


class OrderUpdate(models.Model):
    """One order event told to the customer; ``key`` is unique, so an event is never announced twice."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="updates")
    event = models.CharField(max_length=20)
    key = models.CharField(max_length=200, unique=True)
    message = models.ForeignKey(Message, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.order.number}: {self.event}"


class CannedResponse(models.Model):
    """A reply the team reuses. ``body`` may hold tokens such as ``{{ customer.first_name }}`` or
    ``{{ customer.first_name|default:"there" }}``, filled in for the conversation when inserted
    (see heedful/inbox/canned.py). ``shortcut`` is the short name typed to insert it."""

    title = models.CharField(max_length=100)
    # Nullable so rows made before shortcuts existed need none; new ones get one from the form.
    shortcut = models.SlugField(max_length=40, unique=True, null=True, blank=True)
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class WebhookDelivery(models.Model):
    """One conversation event for one subscriber, written in the event's transaction (an outbox)
    and delivered afterwards by a task, signed, retried with back-off, never silently dropped."""

    url = models.URLField(max_length=500)
    event = models.CharField(max_length=50)
    payload = models.JSONField()
    status = models.CharField(max_length=8, default="pending", db_index=True)  # pending/sending/sent/failed
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.event} → {self.url}"


class CsatRequest(models.Model):
    """The "how did it go?" question for one resolved conversation, and its answer.

    One per conversation (the question is asked once); answering again updates the rating and
    comment in place. ``agent`` is whoever held the conversation when it was asked, so results
    stay with the person who did the work even if the conversation is reassigned later.
    """

    # Null once the customer was erased: the rating stays in the agent's results, the person goes.
    conversation = models.OneToOneField(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="csat"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decision = models.ForeignKey(
        "governance.DecisionRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="inbox_csat_rating_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return f"CSAT #{self.conversation_id or '(erased)'}: {self.rating or '-'}"


class SlaKind(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First reply")
    RESOLUTION = "resolution", _("Resolution")


class SlaBreach(models.Model):
    """One SLA timer that ran out. Unique per conversation, timer and due time, so the sweep
    that finds breaches can run any number of times and each breach is told once; a new due
    time (the conversation was handed off again) is a new breach."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="sla_breaches")
    kind = models.CharField(max_length=16, choices=SlaKind.choices)
    due_at = models.DateTimeField()
    detected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "kind", "due_at"], name="inbox_sla_breach_once")
        ]

    def __str__(self) -> str:
        return f"#{self.conversation_id} {self.get_kind_display()} overdue since {self.due_at:%Y-%m-%d %H:%M}"


class SlaNotice(models.Model):
    """A breach told to one person: shown in their inbox until dismissed, emailed once
    (``emailed_at`` is the claim a retried task checks)."""

    breach = models.ForeignKey(SlaBreach, on_delete=models.CASCADE, related_name="notices")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.TextField(blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["breach", "user"], name="inbox_sla_notice_once")]
        indexes = [models.Index(fields=["user", "dismissed_at"])]

    def __str__(self) -> str:
        return f"{self.breach} → {self.user_id}"
