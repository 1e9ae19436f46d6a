from django.urls import include, path

from careloop.config.api import api
from careloop.interop.fhir.facade import urlpatterns as fhir_urls
from careloop.interop.x12.views import month_837p

urlpatterns = [
    path("api/", api.urls),
    path("fhir/", include(fhir_urls)),
    path("", include("careloop.worklist.urls")),
    path("", include("careloop.careplans.urls")),
    path("", include("careloop.access.urls")),
    path("", include("careloop.programs.urls")),
    path("", include("careloop.quality.urls")),
    path("", include("careloop.transitions.urls")),
    path("", include("careloop.compliance.urls")),
    path("billing/<str:month>/claims.837", month_837p, name="billing-837p"),
    path("", include("careloop.billing.urls")),
    path("", include("careloop.insights.urls")),
    path("", include("careloop.web.urls")),
]
