from django.contrib import admin
from django.urls import include, path

from heedful.accounts.urls import auth_patterns, own_patterns
from heedful.errors import favicon

urlpatterns = [
    path("", include("heedful.brief.urls")),
    # Browsers ask for /favicon.ico on pages that name no icon (the widget's demo shop, say).
    path("favicon.ico", favicon),
    path("accounts/", include(auth_patterns)),
    path("accounts/", include((own_patterns, "accounts"))),
    path("contacts/", include("heedful.crm.urls")),
    path("trust/", include("heedful.governance.urls")),
    path("people/", include("heedful.people.urls")),
    path("surveys/", include("heedful.surveys.urls")),
    path("workflows/", include("heedful.workflows.urls")),
    path("knowledge/", include("heedful.knowledge.urls")),
    path("inbox/", include("heedful.inbox.urls")),
    path("api/", include("heedful.api_urls")),
    path("admin/", admin.site.urls),
]
handler404 = "heedful.errors.not_found"
