"""``heedful import_knowledge --csv faq.csv --markdown help/``: FAQ entries and articles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from heedful.knowledge import services


class Command(BaseCommand):
    help = "Import FAQ entries from a CSV file and articles from a folder of Markdown files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--csv", type=Path, help="CSV with question, answer, variants (|-separated), link"
        )
        parser.add_argument("--markdown", type=Path, help="a folder of *.md files, one article each")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["csv"]:
            count = services.import_faq_csv(text=options["csv"].read_text(encoding="utf-8-sig"))
            self.stdout.write(f"{count} FAQ entries from {options['csv']}")
        if options["markdown"]:
            count = services.import_markdown_folder(folder=options["markdown"])
            self.stdout.write(f"{count} articles from {options['markdown']}")
