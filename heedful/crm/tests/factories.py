from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from heedful.crm.models import Company, Contact, Note, Tag, TimelineEntry, TimelineKind


class CompanyFactory(DjangoModelFactory[Company]):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")


class TagFactory(DjangoModelFactory[Tag]):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class ContactFactory(DjangoModelFactory[Contact]):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = "Casey"
    last_name = factory.Sequence(lambda n: f"Customer{n:03d}")

    @factory.post_generation
    def tags(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create and extracted:
            self.tags.add(*[TagFactory(name=name) for name in extracted])


class NoteFactory(DjangoModelFactory[Note]):
    class Meta:
        model = Note

    contact = factory.SubFactory(ContactFactory)
    body = "Prefers phone calls."


class TimelineEntryFactory(DjangoModelFactory[TimelineEntry]):
    class Meta:
        model = TimelineEntry

    contact = factory.SubFactory(ContactFactory)
    kind = TimelineKind.MESSAGE
    title = "Chat message"
