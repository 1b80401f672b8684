"""Import and export workflows as JSON or YAML documents.

The document is the definition plus its name and description::

    format: heedful.workflow/1
    name: Order shipped
    description: ...
    definition: {trigger: ..., steps: [...]}

Export is what import reads back; nothing secret is in it (webhook signing keys are
derived from the installation's SECRET_KEY, never stored in the definition).
"""

from __future__ import annotations

import json
from typing import Any

from heedful.workflows.definition import DefinitionError, check
from heedful.workflows.models import WorkflowDefinition

FORMAT = "heedful.workflow/1"


def to_document(workflow: WorkflowDefinition) -> dict[str, Any]:
    version = workflow.current_version
    return {
        "format": FORMAT,
        "name": workflow.name,
        "description": workflow.description,
        "definition": version.definition if version else {},
    }


def dumps(document: dict[str, Any], fmt: str = "json") -> str:
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _load_yaml(text: str) -> Any:
    import yaml

    class TextDates(yaml.SafeLoader):
        """YAML without its implicit timestamps: ``2026-03-01`` stays the text a definition
        compares, and ``2026-02-30`` is no longer a date that cannot exist (a crash)."""

    TextDates.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return yaml.load(text, Loader=TextDates)  # noqa: S506 - a SafeLoader subclass


def parse(text: str) -> dict[str, Any]:
    """Read a JSON or YAML document (or a bare definition); raises DefinitionError with every problem."""
    text = text.strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            import yaml
        except ImportError:
            raise DefinitionError(
                [f"document: not valid JSON ({json_error.msg}, line {json_error.lineno})"]
            ) from None
        try:
            data = _load_yaml(text)
        except yaml.YAMLError as exc:
            raise DefinitionError([f"document: neither JSON nor YAML ({exc})"]) from None
    try:
        # What a JSON column can hold, on PostgreSQL too: YAML's binary and sets, and NaN or
        # Infinity (which Python's JSON reader accepts and jsonb refuses), are errors here.
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(
            [f"document: holds a value a workflow cannot store: NaN, Infinity, binary data or a set ({exc})"]
        ) from None
    if not isinstance(data, dict):
        raise DefinitionError(["document: must be an object"])
    if "definition" not in data:
        data = {"format": FORMAT, "name": "", "description": "", "definition": data}
    if data.get("format", FORMAT) != FORMAT:
        raise DefinitionError([f"format: this version of heedful reads {FORMAT}"])
    check(data["definition"])
    return data
