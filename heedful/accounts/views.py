from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from heedful.accounts import services
from heedful.accounts.forms import InviteForm, RoleForm, TokenForm
from heedful.accounts.models import ApiToken, User
from heedful.accounts.permissions import AuthedRequest, require
from heedful.accounts.roles import Perm
from heedful.governance.services import record_audit
from heedful.outgoing_mail import mail_is_delivered


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    """Says whether a link is really on its way: without a mail server, it is only a file."""

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        return {**super().get_context_data(**kwargs), "mail_delivered": mail_is_delivered()}


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user: User = form.user  # the signed-in person, whose password the form just saved
        record_audit(action="user.password_change", user=user, obj=user)
        messages.success(self.request, _("Your password is changed."))
        return response


class InviteAcceptView(auth_views.PasswordResetConfirmView):
    """An invited person (or the first owner) chooses a password through a one-time link."""

    template_name = "accounts/invite_accept.html"
    success_url = reverse_lazy("login")
    post_reset_login = False


@require(Perm.MANAGE_USERS)
def user_list(request: AuthedRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invited = services.invite_user(invited_by=request.user, **form.cleaned_data)
        except services.AccountError as exc:
            form.add_error("email", str(exc))
        else:
            if mail_is_delivered():
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": invited.email})
            else:
                # Saying "sent" would be wrong: the invitation is a file in the data directory.
                messages.warning(
                    request,
                    _(
                        "heedful has no mail server yet (EMAIL_HOST is not set), so no email left this "
                        "machine. Give %(email)s this one-time link yourself; it expires in 3 days: %(link)s"
                    )
                    % {"email": invited.email, "link": services.set_password_link(invited)},
                )
            return redirect("accounts:user-list")
    users = User.objects.order_by("-is_active", "email")
    return render(request, "accounts/user_list.html", {"users": users, "form": form, "role_form": RoleForm()})


@require(Perm.MANAGE_USERS)
@require_POST
def user_role(request: AuthedRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(User, pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.change_role(user=target, role=form.cleaned_data["role"], changed_by=request.user)
            messages.success(request, _("Role of %(email)s changed.") % {"email": target.email})
        except services.AccountError as exc:
            messages.error(request, str(exc))
    return redirect("accounts:user-list")


@require(Perm.MANAGE_USERS)
@require_POST
def user_deactivate(request: AuthedRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(User, pk=pk)
    try:
        services.deactivate_user(user=target, changed_by=request.user)
        messages.success(request, _("%(email)s can no longer sign in.") % {"email": target.email})
    except services.AccountError as exc:
        messages.error(request, str(exc))
    return redirect("accounts:user-list")


@login_required
def profile(request: AuthedRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        _token, new_secret = services.create_api_token(user=request.user, name=form.cleaned_data["name"])
        form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request, "accounts/profile.html", {"form": form, "tokens": tokens, "new_secret": new_secret}
    )


@login_required
@require_POST
def token_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    services.revoke_api_token(token=token, user=request.user)
    messages.success(request, _("Token revoked."))
    return redirect("accounts:profile")
