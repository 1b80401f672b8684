"""The demo's workflows: the gallery installed, the customer-facing ones switched on.

The tea shop runs its order updates (shipped / delayed / delivered), onboarding check-ins
and lead follow-ups as workflows, so marking a demo order shipped on the orders page sends
the customer an email through the outbox, with a decision record and a timeline entry.
The other templates are installed but off: the inbox's own CSAT and SLA reminders and the
people app's routines already cover them, and the event log shows "The workflow is off"
for their events, which is the explanation a business needs when it wonders why.

The demo business has chosen to let workflow emails go out without asking first (the
default is to ask); its policy change is in the audit log like any other.
"""

from __future__ import annotations

from django.db import transaction

from heedful.governance.models import ActionPolicy, PolicyMode
from heedful.governance.services import record_audit
from heedful.workflows import gallery
from heedful.workflows.models import WorkflowDefinition

ENABLED = ("order-shipped", "order-delayed", "order-delivered", "customer-onboarding", "lead-follow-up")
SEND_EMAIL = "workflows.send_email"


@transaction.atomic
def load_workflows_demo() -> str:
    """Install every gallery template once (the customer-facing ones on); says what it did."""
    installed = set(
        WorkflowDefinition.objects.exclude(template_key="").values_list("template_key", flat=True)
    )
    added = 0
    for template in gallery.templates():
        if template.key in installed:
            continue
        gallery.install_template(template.key, user=None, enabled=template.key in ENABLED)
        added += 1
    if not ActionPolicy.objects.filter(action_type=SEND_EMAIL).exists():
        ActionPolicy.objects.create(action_type=SEND_EMAIL, mode=PolicyMode.AUTO)
        record_audit(
            action="policy.change",
            automation="demo",
            object_type="action_policy",
            object_id=SEND_EMAIL,
            object_repr=SEND_EMAIL,
            summary=f"Policy for {SEND_EMAIL}: ask → auto (the demo shop lets workflow emails go out)",
            changes={"mode": ["ask", PolicyMode.AUTO]},
        )
    on = WorkflowDefinition.objects.filter(enabled=True).count()
    return f"{added} workflows from the gallery ({on} on)"
