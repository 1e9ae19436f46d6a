"""The compliance side of the billing run: ``billing.evidence.EvidenceProvider`` implemented over this app's
records. The CLI, scheduler and views pass ``ComplianceEvidence()`` to ``billing.services.run_billing_month`` so
the run can flag APCM claims whose practice capabilities (APCM-012), monthly activity (cms-rules 2.7) or
performance-measurement pathway (APCM-011) lack evidence."""

from __future__ import annotations

from collections.abc import Sequence

from careloop.billing.evidence import EvidenceProvider
from careloop.billing.rules.facts import Capability
from careloop.compliance import rules, selectors


class ComplianceEvidence:
    """Set-based: a fixed handful of queries per call whatever the number of patients."""

    def capabilities(self, organization_id: int, month: str) -> tuple[Capability, ...] | None:
        """Every capability record in force on at least one day of ``month``, with its dates and evidence (the
        rules engine decides whether they cover the month). An empty tuple means "assessed, none recorded"."""
        periods = rules.periods_in_month(selectors.capability_periods(organization_id=organization_id), month)
        return tuple(Capability(p.key, p.effective_from, p.effective_to, p.evidence) for p in periods)

    def apcm_activity(self, organization_id: int, patient_ids: Sequence[int], month: str) -> dict[int, bool]:
        """patient id -> at least one documented APCM activity in the month; every asked patient is assessed."""
        counts = selectors.activity_counts(organization_id=organization_id, month=month, patient_ids=patient_ids)
        return {pid: rules.has_monthly_activity(counts.get(pid)) for pid in patient_ids}

    def performance_pathways(self, organization_id: int, year: int) -> dict[int, str]:
        """practitioner id -> APCM performance-measurement pathway for the year (APCM-011); absent = none."""
        return selectors.pathway_by_practitioner(organization_id=organization_id, year=year)


def provider() -> EvidenceProvider:
    return ComplianceEvidence()
