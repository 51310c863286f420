"""Root URL conf. Each app owns its REST routes (`<app>/api_urls.py`); `studio/urls.py` has every Studio page."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from bots.views_health import healthz
from observability.views import metrics_view
from studio.permissions import staff_required

# The API docs pages: Swagger UI with its init script as a file (no inline script, so the CSP applies)
# and Redoc without web fonts, both from drf-spectacular-sidecar; anonymous visitors go to the login page.
api_docs = staff_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))
api_redoc = staff_required(SpectacularRedocView.as_view(url_name="api-schema", template_name="api_docs/redoc.html"))

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus: staff token or allow-listed address
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/redoc/", api_redoc, name="api-redoc"),
    path("api/", include("bots.api_urls")),
    path("api/", include("conversations.api_urls")),
    path("api/", include("integrations.api_urls")),
    path("api/", include("audio.api_urls")),
    path("api/", include("embed.api_urls")),
    path("public/", include("embed.urls")),
    path("", include("integrations.urls")),
    path("", include("telephony.urls")),
    path("", include("studio.urls")),
]

handler404 = "bots.views_errors.page_not_found"
handler500 = "bots.views_errors.server_error"
