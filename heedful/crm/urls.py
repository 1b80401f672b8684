from django.urls import path

from heedful.crm import views

app_name = "crm"
urlpatterns = [
    path("", views.contact_list, name="contact-list"),
    path("new/", views.contact_create, name="contact-create"),
    path("import/", views.contact_import, name="contact-import"),
    path("import/<int:pk>/", views.contact_import_status, name="contact-import-status"),
    path("export.csv", views.contact_export, name="contact-export"),
    path("<int:pk>/", views.contact_detail, name="contact-detail"),
    path("<int:pk>/edit/", views.contact_edit, name="contact-edit"),
    path("<int:pk>/notes/", views.note_add, name="note-add"),
    path("<int:pk>/erase/", views.contact_erase, name="contact-erase"),
]
