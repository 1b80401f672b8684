"""Imports from the web page run in the background: once, whole or not at all, then forgotten."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from django.urls import reverse
from django.utils import timezone

from heedful.crm import import_jobs, services
from heedful.crm.models import Contact, ContactImport, ImportStatus

pytestmark = pytest.mark.django_db

FILE = b"email,first_name\nana@example.com,Ana\nben@example.com,Ben\ncleo@example.com,Cleo\n"


def _queued(user: Any, content: bytes = FILE, all_or_nothing: bool = True) -> ContactImport:
    with patch("heedful.crm.tasks.run_contact_import_task.delay"):
        return import_jobs.queue_contact_import(file=content, user=user, all_or_nothing=all_or_nothing)


def test_a_worker_killed_mid_import_leaves_nothing_written_and_the_repeated_delivery_imports_all(manager):
    job = _queued(manager)
    real = services._write_import_rows

    def write_then_die(rows: Any, *, user: Any) -> Any:
        real(rows, user=user)
        raise KeyboardInterrupt  # what a killed process looks like from inside: no commit

    with patch.object(services, "_write_import_rows", write_then_die), pytest.raises(KeyboardInterrupt):
        import_jobs.run_contact_import(job.pk)

    job.refresh_from_db()
    assert Contact.objects.count() == 0
    assert (job.status, bytes(job.content)) == (ImportStatus.RUNNING, FILE)

    assert import_jobs.run_contact_import(job.pk) == "3 created, 0 updated, 0 rows skipped."
    job.refresh_from_db()
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "ana@example.com",
        "ben@example.com",
        "cleo@example.com",
    ]
    assert (job.status, job.report["created"], bytes(job.content)) == (ImportStatus.DONE, 3, b"")


def test_a_repeated_delivery_after_the_import_does_nothing(manager):
    job = _queued(manager)
    import_jobs.run_contact_import(job.pk)
    Contact.objects.filter(email="ana@example.com").update(first_name="Anna")

    assert import_jobs.run_contact_import(job.pk) == "already done"
    assert Contact.objects.get(email="ana@example.com").first_name == "Anna"


def test_an_import_that_cannot_run_is_marked_failed_with_the_reason_and_the_file_dropped(manager):
    job = _queued(manager)
    ContactImport.objects.filter(pk=job.pk).update(created_by=None)

    assert import_jobs.run_contact_import(job.pk) == "failed"

    job.refresh_from_db()
    assert (job.status, job.error, bytes(job.content)) == (
        ImportStatus.FAILED,
        "ValueError: The account that uploaded the file no longer exists.",
        b"",
    )
    assert not Contact.objects.exists()


def test_week_old_reports_are_forgotten_and_week_old_uploads_fail_unimported(manager):
    now = timezone.now()
    old = _queued(manager)
    recent = _queued(manager)
    waiting = _queued(manager)
    for job in (old, recent):
        import_jobs.run_contact_import(job.pk)
    ContactImport.objects.filter(pk=old.pk).update(finished_at=now - timedelta(days=8))

    abandoned = _queued(manager)
    ContactImport.objects.filter(pk=abandoned.pk).update(created_at=now - timedelta(days=8))

    assert import_jobs.forget_old_contact_imports(now) == 1
    assert sorted(ContactImport.objects.values_list("pk", flat=True)) == sorted(
        [recent.pk, waiting.pk, abandoned.pk]
    )
    abandoned.refresh_from_db()
    assert (abandoned.status, bytes(abandoned.content)) == (ImportStatus.FAILED, b"")
    assert abandoned.error.startswith("Not imported: no background worker ran for a week")
    assert import_jobs.run_contact_import(abandoned.pk) == "already done"


def test_the_import_pages_need_the_import_right(agent_client, manager):
    job = _queued(manager)

    assert agent_client.get(reverse("crm:contact-import-status", args=[job.pk])).status_code == 403


def test_the_import_page_lists_recent_imports_with_their_outcome(manager_client, manager):
    done = _queued(manager)
    import_jobs.run_contact_import(done.pk)
    _queued(manager, content=b"email\nx@example.com\n")

    html = manager_client.get(reverse("crm:contact-import")).content.decode()

    assert "3 created, 0 updated, 0 rows skipped." in html
    assert "waiting for the background worker" in html


def test_the_sweep_runs_daily_from_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["forget-old-contact-imports"]
    assert entry["task"] == "heedful.crm.tasks.forget_old_contact_imports_task"


def test_the_api_queues_an_import_answers_202_and_reports_when_polled(
    api_client_for: Any, manager: Any, agent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from heedful.crm.tasks import run_contact_import_task

    client = api_client_for(manager)
    upload = SimpleUploadedFile("people.csv", FILE, content_type="text/csv")
    with (
        patch.object(run_contact_import_task, "delay") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        answer = client.post(
            "/api/v1/contact-imports/", {"file": upload, "all_or_nothing": "true"}, format="multipart"
        )

    assert answer.status_code == 202
    body = answer.json()
    assert (body["filename"], body["status"], body["report"]) == ("people.csv", "queued", None)
    assert queued.call_args.args == (body["id"],)

    run_contact_import_task(body["id"])
    polled = client.get(f"/api/v1/contact-imports/{body['id']}/").json()

    assert polled["status"] == "done"
    assert polled["report"]["summary"] == "3 created, 0 updated, 0 rows skipped."
    assert [row["id"] for row in client.get("/api/v1/contact-imports/").json()["results"]] == [body["id"]]
    assert api_client_for(agent).get("/api/v1/contact-imports/").status_code == 403


def test_the_api_refuses_a_missing_or_oversized_file_with_the_reason(
    api_client_for: Any, manager: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = api_client_for(manager)
    missing = client.post("/api/v1/contact-imports/", {}, format="multipart")
    big = SimpleUploadedFile("big.csv", b"email\n" + b"a" * (10 * 1024 * 1024), content_type="text/csv")
    too_big = client.post("/api/v1/contact-imports/", {"file": big}, format="multipart")

    assert missing.status_code == too_big.status_code == 400
    assert too_big.json() == {"file": ["The file is larger than 10 MB. Split it into smaller files."]}
    assert not ContactImport.objects.exists()


def test_the_import_page_title_is_plain_words(manager_client, manager):
    import_jobs.run_contact_import(_queued(manager).pk)

    html = manager_client.get(reverse("crm:contact-import")).content.decode()

    assert "<title>Import contacts · heedful</title>" in html
