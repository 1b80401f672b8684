from django.urls import path

from heedful.knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("", views.entry_list, name="entry-list"),
    path("import/", views.import_csv, name="import-csv"),
    path("articles/<slug:slug>/", views.article, name="article"),
]
