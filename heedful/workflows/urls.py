from django.urls import path

from heedful.workflows import views

app_name = "workflows"
urlpatterns = [
    path("", views.workflow_list, name="list"),
    path("new/", views.workflow_new, name="new"),
    path("validate/", views.workflow_validate, name="validate"),
    path("import/", views.workflow_import, name="import"),
    path("events/", views.event_log, name="events"),
    path("gallery/", views.gallery_list, name="gallery"),
    path("gallery/<slug:key>/install/", views.gallery_install, name="gallery-install"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("runs/<int:pk>/retry/", views.run_retry, name="run-retry"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
    path("<int:pk>/", views.workflow_detail, name="detail"),
    path("<int:pk>/edit/", views.workflow_edit, name="edit"),
    path("<int:pk>/toggle/", views.workflow_toggle, name="toggle"),
    path("<int:pk>/export/", views.workflow_export, name="export"),
    path("<int:pk>/dry-run/", views.workflow_dry_run, name="dry-run"),
]
