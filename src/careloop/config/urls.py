from django.urls import include, path

from careloop.config.api import api
from careloop.interop.fhir.facade import urlpatterns as fhir_urls

urlpatterns = [
    path("api/", api.urls),
    path("fhir/", include(fhir_urls)),
    path("", include("careloop.worklist.urls")),
    path("", include("careloop.careplans.urls")),
    path("", include("careloop.access.urls")),
    path("", include("careloop.programs.urls")),
    path("", include("careloop.quality.urls")),
    path("", include("careloop.transitions.urls")),
    path("", include("careloop.web.urls")),
]
