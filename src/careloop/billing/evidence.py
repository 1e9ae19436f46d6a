"""What the billing run needs from the compliance app, as a protocol (compliance sits above billing: billing
never imports it). The CLI, the scheduler job and the views pass ``careloop.compliance``'s implementation when
that app is installed; without one, capabilities are "not assessed" (APCM-012 not evaluated) and APCM monthly
activity is "not assessed"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from careloop.billing.rules.facts import Capability


class EvidenceProvider(Protocol):
    def capabilities(self, organization_id: int, month: str) -> tuple[Capability, ...] | None:
        """The practice's APCM capabilities (cms-rules 2.6) with effective dates; None = not assessed."""
        ...

    def apcm_activity(self, organization_id: int, patient_ids: Sequence[int], month: str) -> dict[int, bool]:
        """patient id -> whether APCM activity (or an attestation) is documented in ``month``. Patients left out
        are "not assessed"."""
        ...

    # Optional (looked up with getattr): practitioner id -> APCM performance-measurement pathway for the year.
    # def performance_pathways(self, organization_id: int, year: int) -> dict[int, str]


def configured_provider() -> EvidenceProvider | None:
    """The provider named by ``settings.BILLING_EVIDENCE_PROVIDER`` (a factory or class path), looked up by name
    so billing never imports the compliance app; None when unset or not installed."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    path = getattr(settings, "BILLING_EVIDENCE_PROVIDER", "")
    if not path:
        return None
    try:
        factory = import_string(path)
    except ImportError:
        return None
    provider: EvidenceProvider = factory()
    return provider
