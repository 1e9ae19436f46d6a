"""POST /api/fhir/import: a Bundle or NDJSON body, imported with the same pipeline as the CLI."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router

from careloop.accounts.permissions import actor_from_request, require_permission
from careloop.interop.fhir.importer import FhirImporter

router = Router(tags=["fhir"])
MAX_BODY = 200 * 1024 * 1024


def _outcome(status: int, message: str) -> HttpResponse:
    import orjson

    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": message}],
    }
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/fhir+json")


@router.post(
    "/import",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/fhir+json": {"schema": {"type": "object"}},
                "application/fhir+ndjson": {"schema": {"type": "string"}},
            }
        }
    },
)
def import_fhir(request: HttpRequest, source: str = "api") -> Any:
    """Import a FHIR Bundle (JSON) or bulk NDJSON. Returns counts per resource type; rejected resources are
    quarantined with the reason. A body that is not FHIR at all gets an OperationOutcome."""
    actor = require_permission(actor_from_request(request), "fhir.import")
    assert actor.organization_id is not None
    data = request.body
    if not data.strip():
        return _outcome(400, "empty request body")
    if len(data) > MAX_BODY:
        return _outcome(413, "request body too large; use bulk NDJSON files with the CLI")
    importer = FhirImporter(
        organization_id=actor.organization_id, source_system=source[:200], actor=actor, channel="fhir-api"
    )
    ndjson = "ndjson" in (request.content_type or "")
    if ndjson:
        for lineno, line in enumerate(data.splitlines(), 1):
            if line.strip():
                importer.import_line(line, "request", f"line {lineno}")
    else:
        importer.import_bytes(data, "request")
    importer.flush()
    summary = importer.summary
    accepted = summary.total - sum(c.get("rejected", 0) for c in summary.counts.values())
    if accepted == 0 and summary.rejections:
        body = {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": "invalid", "diagnostics": r["reason"], "location": [r["location"]]}
                for r in summary.rejections[:100]
            ],
        }
        import orjson

        return HttpResponse(orjson.dumps(body), status=422, content_type="application/fhir+json")
    return {"counts": summary.as_json(), "rejections": summary.rejections[:100]}
