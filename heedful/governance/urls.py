from django.urls import path

from heedful.governance import views

app_name = "governance"
urlpatterns = [
    path("approvals/", views.approval_list, name="approval-list"),
    path("approvals/decide/", views.approval_decide_many, name="approval-decide-many"),
    path("approvals/<int:pk>/approve/", views.approval_approve, name="approval-approve"),
    path("approvals/<int:pk>/reject/", views.approval_reject, name="approval-reject"),
    path("approvals/<int:pk>/undo/", views.approval_undo, name="approval-undo"),
    path("decisions/", views.decision_list, name="decision-list"),
    path("decisions/<int:pk>/", views.decision_detail, name="decision-detail"),
    path("audit/", views.audit_list, name="audit-list"),
    path("policies/", views.policy_list, name="policy-list"),
]
