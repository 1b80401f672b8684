"""People pages: leave, the team calendar and iCal feed, onboarding, and "what we hold about me"."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from heedful.accounts.models import User
from heedful.accounts.permissions import AuthedRequest, require
from heedful.accounts.roles import Perm
from heedful.errors import NotAvailable
from heedful.people import ical, leave_config, onboarding_config, page_data, queries, services
from heedful.people.forms import (
    BalanceAdjustmentForm,
    HireForm,
    LaunchOnboardingForm,
    LeaveRequestForm,
    LeaveTypeForm,
    OnboardingTaskFormSet,
    OnboardingTemplateForm,
    PublicHolidayForm,
)
from heedful.people.links import LinkError, make_ical_token, read_decision_token, read_ical_token
from heedful.people.models import (
    Employee,
    LeaveRequest,
    LeaveType,
    Onboarding,
    OnboardingTask,
    OnboardingTemplate,
    PublicHoliday,
)


class HtmxRequest(AuthedRequest):
    htmx: HtmxDetails


def _me(request: AuthedRequest) -> Employee:
    employee = queries.employee_of(request.user)
    if employee is None:
        raise NotAvailable("Your account is not linked to an employee record yet; ask HR.")
    return employee


def _visible_request(user: User, pk: int) -> LeaveRequest:
    leave = get_object_or_404(LeaveRequest.objects.select_related("employee__team", "leave_type"), pk=pk)
    if queries.visible_employees(user).filter(pk=leave.employee_id).exists() or queries.may_decide(
        user, leave
    ):
        return leave
    raise PermissionDenied("This leave request is not in your teams.")


@require(Perm.VIEW_PEOPLE)
def employee_list(request: AuthedRequest) -> HttpResponse:
    employees = queries.visible_employees(request.user).filter(is_active=True)
    context = {"employees": employees, "can_hire": request.user.can(Perm.MANAGE_PEOPLE)}
    return render(request, "people/employee_list.html", context)


@require(Perm.MANAGE_PEOPLE)
def hire(request: AuthedRequest) -> HttpResponse:
    form = HireForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        onboard = data.pop("start_onboarding")
        try:
            employee = services.hire_employee(user=request.user, **data)
        except services.PeopleError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{employee} starts on {employee.start_date}.")
            if onboard:
                try:
                    onboarding = services.launch_onboarding(employee=employee, user=request.user)
                except services.OnboardingError as exc:
                    messages.warning(request, str(exc))
                else:
                    return redirect("people:onboarding-detail", onboarding.pk)
            return redirect("people:employee-detail", employee.pk)
    return render(request, "people/hire.html", {"form": form})


@require(Perm.VIEW_PEOPLE)
def employee_detail(
    request: AuthedRequest, pk: int, form: BalanceAdjustmentForm | None = None
) -> HttpResponse:
    employee = get_object_or_404(queries.visible_employees(request.user), pk=pk)
    services.audit_hr_read(user=request.user, employee=employee, what="the HR record")
    context = page_data.employee_record(employee)
    if request.user.can(Perm.MANAGE_PEOPLE):
        context["adjust_form"] = form or BalanceAdjustmentForm(
            initial={"effective_date": timezone.localdate()}
        )
    return render(request, "people/employee_detail.html", context, status=400 if form else 200)


@require(Perm.MANAGE_PEOPLE)
@require_POST
def balance_adjust(request: AuthedRequest, pk: int) -> HttpResponse:
    employee = get_object_or_404(Employee, pk=pk)
    form = BalanceAdjustmentForm(request.POST)
    if not form.is_valid():
        return employee_detail(request, pk, form=form)
    adjustment = services.adjust_balance(employee=employee, user=request.user, **form.cleaned_data)
    messages.success(request, f"{adjustment.leave_type}: {adjustment.days:+} days for {employee}.")
    return redirect("people:employee-detail", pk)


@login_required
def me(request: AuthedRequest) -> HttpResponse:
    """Everything heedful holds about the signed-in person, and why (C24)."""
    return render(request, "people/me.html", page_data.about_me(request.user, _me(request)))


@login_required
def my_leave(request: AuthedRequest) -> HttpResponse:
    employee = _me(request)
    form = LeaveRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            leave = services.request_leave(employee=employee, user=request.user, **form.cleaned_data)
        except services.LeaveError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Requested {leave.days.normalize():f} days of {leave.leave_type}.")
            overlaps = queries.overlapping_absences(employee, leave.start_date, leave.end_date)
            if overlaps:
                # The team-overlap warning: the approver sees it too, but the asker may rather move.
                away = "; ".join(f"{o.employee} ({o.start_date} – {o.end_date})" for o in overlaps)
                messages.warning(request, f"Also away from your team then: {away}.")
            return redirect("people:leave-detail", leave.pk)
    today = timezone.localdate()
    year = page_data.balance_year(request.GET.get("year"), today)
    return render(request, "people/my_leave.html", page_data.my_leave(employee, form, today, year))


@login_required
def leave_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    leave = _visible_request(request.user, pk)
    services.audit_hr_read(user=request.user, employee=leave.employee, what=f"leave request #{leave.pk}")
    return render(request, "people/leave_detail.html", page_data.leave_detail(request.user, leave))


@login_required
@require_POST
def leave_decide(request: AuthedRequest, pk: int) -> HttpResponse:
    leave = _visible_request(request.user, pk)
    try:
        services.decide_leave(
            request=leave,
            user=request.user,
            approve=request.POST.get("decision") == "approve",
            comment=request.POST.get("comment", "")[:300],
        )
    except services.LeaveError as exc:
        messages.error(request, str(exc))
    return redirect("people:leave-detail", pk)


@login_required
@require_POST
def leave_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    leave = _visible_request(request.user, pk)
    try:
        services.cancel_leave(request=leave, user=request.user)
        messages.success(request, f"Cancelled; {leave.days} days are back in the balance.")
    except services.LeaveError as exc:
        messages.error(request, str(exc))
    return redirect("people:leave-detail", pk)


@require(Perm.VIEW_PEOPLE)
def leave_list(request: AuthedRequest) -> HttpResponse:
    """Leave across the teams the user may see, and what waits for their decision."""
    context = page_data.leave_overview(
        request.user,
        status=request.GET.get("status", ""),
        who=request.GET.get("who", "")[:100],
        year=request.GET.get("year", ""),
        page=request.GET.get("page"),
    )
    shown = [r.employee_id for r in context["requests"]] + [r.employee_id for r in context["awaiting"]]
    services.audit_hr_list_read(user=request.user, what="the team leave list", employee_ids=shown)
    return render(request, "people/leave_list.html", context)


def leave_link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed decision link. GET only shows a button: mail scanners follow links, and a
    scanner must not approve someone's leave."""
    try:
        link = read_decision_token(token)
        leave = get_object_or_404(
            LeaveRequest.objects.select_related("employee", "leave_type"), pk=link.request_id
        )
        if request.method == "POST":
            leave = services.decide_leave_by_link(token, comment=request.POST.get("comment", "")[:300])
            return render(request, "people/leave_link.html", {"leave": leave, "done": True, "link": link})
        # Say at once when the link is spent, rather than offer a button that can only fail.
        services.check_decision_link(leave, link)
        services.audit_link_read(link=link, leave=leave)
    except (LinkError, services.LeaveError) as exc:
        return render(request, "people/leave_link.html", {"error": str(exc)}, status=410)
    return render(request, "people/leave_link.html", {"leave": leave, "link": link, "token": token})


@login_required
def leave_calendar(request: HtmxRequest) -> HttpResponse:
    month = page_data.parse_month(request.GET.get("month"), timezone.localdate())
    context = page_data.calendar(request.user, month)
    if context["show_type"]:  # HR and managers see why people are away: that is an HR read
        services.audit_hr_list_read(
            user=request.user,
            what=f"the leave calendar for {month:%B %Y}",
            employee_ids=[a.employee_id for a in context["absences"]],
        )
    token = make_ical_token(request.user.pk, queries.feed_key_of(request.user))
    context["ical_url"] = request.build_absolute_uri(f"/people/calendar/{token}.ics")
    template = "people/_calendar.html" if request.htmx else "people/calendar.html"
    return render(request, template, context)


def leave_ical(request: HttpRequest, token: str) -> HttpResponse:
    """The private iCal feed; the signed token in the address stands in for a sign-in.

    Each fetch that shows why people are away (HR's and managers' feeds) is one audited read,
    as the calendar page is: a calendar app polls on its own, and a leaked address shows up as
    reads nobody expected.
    """
    try:
        user_id, key = read_ical_token(token)
        user = User.objects.get(pk=user_id, is_active=True)
    except (LinkError, User.DoesNotExist) as exc:
        raise Http404("Unknown calendar") from exc
    if key != queries.feed_key_of(user):
        raise NotAvailable("This calendar address has been replaced by a newer one.")
    today = timezone.localdate()
    feed = page_data.calendar_feed(user, today - timedelta(days=90), today + timedelta(days=365))
    if feed.show_type:
        services.audit_feed_read(
            user=user,
            token=token,
            employee_ids=feed.employee_ids,
            client=request.headers.get("User-Agent", ""),
        )
    body = ical.calendar("Team leave", feed.events, timezone.now())
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")


@login_required
@require_POST
def calendar_new_address(request: AuthedRequest) -> HttpResponse:
    services.new_feed_address(user=request.user)
    messages.success(request, "Your calendar feed has a new address; the old one no longer works.")
    return redirect("people:calendar")


@require(Perm.VIEW_PEOPLE)
def onboarding_list(request: AuthedRequest) -> HttpResponse:
    form = LaunchOnboardingForm(request.POST or None)
    if request.method == "POST":
        if not request.user.can(Perm.MANAGE_PEOPLE):
            raise PermissionDenied("Only HR can start an onboarding.")
        if form.is_valid():
            try:
                onboarding = services.launch_onboarding(user=request.user, **form.cleaned_data)
            except services.OnboardingError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("people:onboarding-detail", onboarding.pk)
    context = page_data.onboarding_overview(request.user)
    services.audit_hr_list_read(
        user=request.user,
        what="the onboarding overview",
        employee_ids=[o.employee_id for o in context["onboardings"]],
    )
    context["form"] = form if request.user.can(Perm.MANAGE_PEOPLE) else None
    return render(request, "people/onboarding_list.html", context)


def _visible_onboarding(user: User, pk: int) -> Onboarding:
    onboarding = get_object_or_404(Onboarding.objects.select_related("employee__team"), pk=pk)
    if not queries.visible_employees(user).filter(pk=onboarding.employee_id).exists():
        raise PermissionDenied("This onboarding is not in your teams.")
    return onboarding


@login_required
def onboarding_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    onboarding = _visible_onboarding(request.user, pk)
    services.audit_hr_read(user=request.user, employee=onboarding.employee, what="the onboarding checklist")
    return render(
        request, "people/onboarding_detail.html", page_data.onboarding_detail(request.user, onboarding)
    )


@login_required
def my_onboarding(request: AuthedRequest) -> HttpResponse:
    onboarding = Onboarding.objects.filter(employee=_me(request)).first()
    if onboarding is None:
        raise NotAvailable("You have no onboarding checklist.")
    return redirect("people:onboarding-detail", onboarding.pk)


@login_required
@require_POST
def onboarding_task_toggle(request: HtmxRequest, pk: int, task_pk: int) -> HttpResponse:
    onboarding = _visible_onboarding(request.user, pk)
    task = get_object_or_404(OnboardingTask, pk=task_pk, onboarding=onboarding)
    if not page_data.may_tick(request.user, task):
        raise PermissionDenied("This task is someone else's.")
    task = services.complete_onboarding_task(task=task, user=request.user, done=task.done_at is None)
    if request.htmx:
        return render(
            request,
            "people/_onboarding_task.html",
            {"task": task, "onboarding": onboarding, "can_tick": True},
        )
    return redirect("people:onboarding-detail", pk)


# --- Leave settings (HR) ----------------------------------------------------------------------


def _checking_only(request: HtmxRequest) -> bool:
    """An htmx post from a field that changed: validate and show errors in place, save nothing."""
    return bool(request.htmx) and "_check" in request.POST


def _check_filled(form: forms.BaseForm, data: QueryDict) -> None:
    """Validate for the inline check: fields not filled in yet are not scolded for being empty."""
    form.is_valid()
    for name in [n for n in form.errors if n != NON_FIELD_ERRORS and not data.get(n)]:
        del form.errors[name]


def _checked(request: HtmxRequest, form: forms.BaseForm, form_id: str) -> HttpResponse:
    """The errors of an in-place check, each swapped into its own region of the page's form."""
    _check_filled(form, request.POST)
    return render(request, "includes/form_errors_oob.html", {"form": form, "form_id": form_id})


@require(Perm.MANAGE_PEOPLE)
def leave_settings(request: AuthedRequest) -> HttpResponse:
    return render(request, "people/leave_settings.html", page_data.leave_settings())


@require(Perm.MANAGE_PEOPLE)
def leave_type_edit(request: HtmxRequest, pk: int | None = None) -> HttpResponse:
    leave_type = get_object_or_404(LeaveType, pk=pk) if pk is not None else None
    form = LeaveTypeForm(request.POST or None, instance=leave_type)
    context = {"form": form, "leave_type": leave_type}
    if request.method == "POST" and _checking_only(request):
        return _checked(request, form, "leave-type-form")
    if request.method == "POST" and form.is_valid():
        saved = leave_config.save_leave_type(
            user=request.user, leave_type=leave_type, values=form.cleaned_data
        )
        messages.success(request, f"Saved “{saved}”.")
        return redirect("people:leave-settings")
    return render(request, "people/leave_type_form.html", context)


@require(Perm.MANAGE_PEOPLE)
def holidays(request: HtmxRequest) -> HttpResponse:
    form = PublicHolidayForm(request.POST or None)
    today = timezone.localdate()
    year = page_data.balance_year(request.GET.get("year"), today)
    if request.method == "POST" and _checking_only(request):
        return _checked(request, form, "holiday-form")
    if request.method == "POST" and form.is_valid():
        holiday = leave_config.add_public_holiday(user=request.user, values=form.cleaned_data)
        messages.success(request, f"Added {holiday}.")
        return redirect(f"{request.path}?year={holiday.date.year}")
    return render(request, "people/holidays.html", {**page_data.holidays(year, today), "form": form})


@require(Perm.MANAGE_PEOPLE)
@require_POST
def holiday_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    holiday = get_object_or_404(PublicHoliday, pk=pk)
    leave_config.remove_public_holiday(user=request.user, holiday=holiday)
    messages.success(request, f"Removed {holiday}.")
    return redirect(f"{reverse('people:holidays')}?year={holiday.date.year}")


@require(Perm.MANAGE_PEOPLE)
def onboarding_templates(request: AuthedRequest) -> HttpResponse:
    return render(request, "people/onboarding_templates.html", page_data.onboarding_templates())


@require(Perm.MANAGE_PEOPLE)
def onboarding_template_edit(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    template = get_object_or_404(OnboardingTemplate, pk=pk) if pk is not None else None
    form = OnboardingTemplateForm(request.POST or None, instance=template)
    tasks = OnboardingTaskFormSet(request.POST or None, instance=template or OnboardingTemplate())
    if request.method == "POST" and form.is_valid() and tasks.is_valid():
        saved = onboarding_config.save_onboarding_template(user=request.user, form=form, tasks=tasks)
        messages.success(request, f"Saved “{saved}”.")
        return redirect("people:onboarding-templates")
    context = {"form": form, "tasks": tasks, "template": template}
    return render(request, "people/onboarding_template_form.html", context)
