"""The template gallery (C17): ready workflows, installed in one click, then editable.

Each template is a JSON document in ``gallery/`` (the import/export format). Adding one
is adding a file; ``test_gallery.py`` validates every file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction

from heedful.workflows import services
from heedful.workflows.models import WorkflowDefinition

if TYPE_CHECKING:
    from heedful.accounts.models import User

GALLERY_DIR = Path(__file__).resolve().parent / "gallery"


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    description: str
    definition: dict[str, Any]

    @property
    def trigger_event(self) -> str:
        return str(self.definition["trigger"]["event"])


def templates() -> list[Template]:
    found = []
    for path in sorted(GALLERY_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found.append(Template(path.stem, data["name"], data.get("description", ""), data["definition"]))
    return found


def get_template(key: str) -> Template:
    for template in templates():
        if template.key == key:
            return template
    raise KeyError(key)


@transaction.atomic
def install_template(key: str, *, user: User | None, enabled: bool = True) -> WorkflowDefinition:
    """Install a template as a new workflow (its own copy: editing it changes no template)."""
    template = get_template(key)
    return services.create_workflow(
        name=template.name,
        definition=template.definition,
        user=user,
        description=template.description,
        enabled=enabled,
        template_key=key,
    )
