from django.urls import path

from heedful.people import views

app_name = "people"
urlpatterns = [
    path("", views.employee_list, name="employee-list"),
    path("me/", views.me, name="me"),
    path("new/", views.hire, name="hire"),
    path("<int:pk>/", views.employee_detail, name="employee-detail"),
    path("<int:pk>/adjust/", views.balance_adjust, name="balance-adjust"),
    path("leave/", views.my_leave, name="my-leave"),
    path("leave/team/", views.leave_list, name="leave-list"),
    path("leave/<int:pk>/", views.leave_detail, name="leave-detail"),
    path("leave/<int:pk>/decide/", views.leave_decide, name="leave-decide"),
    path("leave/<int:pk>/cancel/", views.leave_cancel, name="leave-cancel"),
    path("leave/link/<str:token>/", views.leave_link, name="leave-link"),
    path("calendar/", views.leave_calendar, name="calendar"),
    path("calendar/<str:token>.ics", views.leave_ical, name="ical"),
    path("calendar/new-address/", views.calendar_new_address, name="calendar-new-address"),
    path("settings/leave/", views.leave_settings, name="leave-settings"),
    path("settings/leave/types/new/", views.leave_type_edit, name="leave-type-create"),
    path("settings/leave/types/<int:pk>/", views.leave_type_edit, name="leave-type-edit"),
    path("settings/holidays/", views.holidays, name="holidays"),
    path("settings/onboarding/", views.onboarding_templates, name="onboarding-templates"),
    path("settings/onboarding/new/", views.onboarding_template_edit, name="onboarding-template-create"),
    path("settings/onboarding/<int:pk>/", views.onboarding_template_edit, name="onboarding-template-edit"),
    path("settings/holidays/<int:pk>/delete/", views.holiday_delete, name="holiday-delete"),
    path("onboarding/", views.onboarding_list, name="onboarding-list"),
    path("onboarding/mine/", views.my_onboarding, name="my-onboarding"),
    path("onboarding/<int:pk>/", views.onboarding_detail, name="onboarding-detail"),
    path(
        "onboarding/<int:pk>/tasks/<int:task_pk>/toggle/",
        views.onboarding_task_toggle,
        name="onboarding-task-toggle",
    ),
]
