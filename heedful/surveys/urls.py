from django.urls import path

from heedful.surveys import views

app_name = "surveys"
urlpatterns = [
    path("", views.survey_list, name="survey-list"),
    path("new/", views.survey_create, name="survey-create"),
    path("<int:pk>/", views.survey_detail, name="survey-detail"),
    path("<int:pk>/rounds/open/", views.round_open, name="round-open"),
    path("rounds/<int:pk>/answer/", views.answer, name="answer"),
    path("rounds/<int:pk>/results/", views.results, name="results"),
]
