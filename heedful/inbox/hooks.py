"""The shop system's webhook: orders and products pushed to us, signed with a shared secret."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from heedful.inbox import shop


@csrf_exempt  # a server-to-server call authenticated by its HMAC signature, not a browser form
@require_POST
def shop_webhook(request: HttpRequest) -> HttpResponse:
    """``{"orders": [{…}], "products": [{…}]}`` signed as ``X-Heedful-Signature: sha256=<hex>``
    (HMAC-SHA256 of the raw body with HEEDFUL_SHOP_WEBHOOK_SECRET). All or nothing."""
    secret = str(getattr(settings, "HEEDFUL_SHOP_WEBHOOK_SECRET", ""))
    try:
        body = request.body
    except RequestDataTooBig:
        # Django's own answer is an HTML 400 page without a reason; the shop's developer needs one.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        error = f"The body is over {limit:,} bytes; send the orders and products in smaller batches."
        return JsonResponse({"error": error}, status=413)
    if not shop.signature_ok(secret, body, request.headers.get("X-Heedful-Signature", "")):
        return JsonResponse({"error": "Bad or missing signature."}, status=403)
    try:
        data = json.loads(body)
        with transaction.atomic():
            orders = [shop.upsert_order(o, source="shop-webhook")[0].number for o in data.get("orders", [])]
            products = [
                shop.upsert_product(p, source="shop-webhook")[0].sku for p in data.get("products", [])
            ]
    except ValidationError as exc:
        return JsonResponse({"error": "; ".join(exc.messages)}, status=400)
    except (ValueError, AttributeError, TypeError):
        return JsonResponse({"error": "Send a JSON object with lists of orders and products."}, status=400)
    return JsonResponse({"orders": orders, "products": products})
