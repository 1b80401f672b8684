from django.urls import path

from heedful.knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("", views.entry_list, name="entry-list"),
    path("new/", views.entry_create, name="entry-create"),
    path("<int:pk>/edit/", views.entry_edit, name="entry-edit"),
    path("<int:pk>/delete/", views.entry_delete, name="entry-delete"),
    path("import/", views.import_csv, name="import-csv"),
    path("caution/", views.bot_caution, name="bot-caution"),
    path("not-covered/", views.uncovered_add, name="uncovered-add"),
    path("not-covered/<int:pk>/remove/", views.uncovered_remove, name="uncovered-remove"),
    path("articles/<slug:slug>/", views.article, name="article"),
]
