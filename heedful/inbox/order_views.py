"""The orders page: the shop's recent orders, and marking one shipped, delayed or delivered.

A person's change goes through ``shop.set_order_status``, the same path as the shop's
webhook, so the customer hears about it exactly once: from the workflow that listens for
it, or from the built-in order email when none is on.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from heedful.accounts.permissions import AuthedRequest, require
from heedful.accounts.roles import Perm
from heedful.inbox import shop
from heedful.inbox.models import Order, OrderStatus

PAGE_SIZE = 100


@require(Perm.WORK_INBOX)
def orders_list(request: AuthedRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    orders = Order.objects.order_by("-placed_at", "-pk")
    if query:
        orders = orders.filter(number__icontains=query) | orders.filter(customer_email__icontains=query)
    return render(
        request,
        "inbox/orders.html",
        {
            "orders": orders[:PAGE_SIZE],
            "query": query,
            "settable": [(OrderStatus(s).value, OrderStatus(s).label) for s in shop.SETTABLE],
        },
    )


@require_POST
@require(Perm.WORK_INBOX)
def set_order_status(request: AuthedRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(Order, pk=pk)
    status = request.POST.get("status", "")
    raw_date = request.POST.get("expected_delivery", "").strip()
    expected = parse_date(raw_date) if raw_date else None
    if raw_date and expected is None:
        messages.error(request, _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw_date})
        return redirect("inbox:orders")
    try:
        shop.set_order_status(
            order,
            status,
            user=request.user,
            carrier=request.POST.get("carrier", ""),
            tracking_url=request.POST.get("tracking_url", ""),
            expected_delivery=expected,
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("inbox:orders")
    messages.success(
        request,
        _("Order %(number)s marked %(status)s; the customer is told.")
        % {"number": order.number, "status": OrderStatus(status).label.lower()},
    )
    return redirect("inbox:orders")
