"""Sign-in pages live at the top of /accounts/ (Django's names: login, logout, password_reset…)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from heedful.accounts import views

own_patterns = [
    path("invite/<uidb64>/<token>/", views.InviteAcceptView.as_view(), name="invite-accept"),
    path("users/", views.user_list, name="user-list"),
    path("users/<int:pk>/role/", views.user_role, name="user-role"),
    path("users/<int:pk>/deactivate/", views.user_deactivate, name="user-deactivate"),
    path("profile/", views.profile, name="profile"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
]

auth_patterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetSentView.as_view(), name="password_reset_done"),
    # Signed in, the current password is enough: no email needed (the embedded mode sends none).
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
