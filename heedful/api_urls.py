"""The REST API: each app registers its viewsets; the schema and docs sit beside them."""

from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from heedful.crm.api import register as register_crm
from heedful.governance.api import register as register_governance
from heedful.inbox.api import register as register_inbox
from heedful.knowledge.api import register as register_knowledge
from heedful.people.api import register as register_people
from heedful.surveys.api import register as register_surveys
from heedful.workflows.api import register as register_workflows

router = DefaultRouter()
register_crm(router)
register_governance(router)
register_people(router)
register_surveys(router)
register_workflows(router)
register_knowledge(router)
register_inbox(router)

urlpatterns = [
    # JSON whatever the client accepts: the address says .json, and tools (schemathesis, code
    # generators) fetch it without a format parameter; the base view answered YAML then.
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("v1/", include(router.urls)),
]
