"""The billing rules engine: one patient-month of facts + a ruleset -> lines, denials, flags, warnings.

Pure: no Django, no database, no clock. The month is in the scenario; thresholds, code sets and effects come from
the ruleset (billing/rulesets/cms-YYYY.yaml). The decision policies are documented in docs/billing-scenarios.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from careloop.billing.rules.calendar import (
    add_business_days,
    add_months,
    add_years,
    month_bounds,
    month_index,
    month_of,
)
from careloop.billing.rules.facts import (
    Decision,
    Enrollment,
    Episode,
    Fact,
    Finding,
    Line,
    OtherClaim,
    Scenario,
)
from careloop.billing.rules.ruleset import Ruleset

CLINICAL = frozenset({"clinical_staff", "billing_practitioner", "bh_care_manager"})
STAFF = frozenset({"clinical_staff", "bh_care_manager"})  # clinical staff (a BH care manager is clinical staff)
PRACTITIONER = frozenset({"billing_practitioner"})


@dataclass
class _Cand:
    code: str
    units: int
    practitioner: str
    rule_ids: list[str]
    dos: dt.date
    family: str
    facts: dict[str, Any] = field(default_factory=dict)
    diagnoses: tuple[str, ...] = ()
    denied: bool = False
    dated: bool = False  # a dated service (TCM visit, a visit) rather than a monthly code
    parent: _Cand | None = None  # an add-on's base line
    source: str = "engine"  # engine | visit

    def add_rule(self, rule_id: str) -> None:
        if rule_id not in self.rule_ids:
            self.rule_ids.append(rule_id)


class _Eval:
    def __init__(self, scenario: Scenario, rs: Ruleset) -> None:
        self.s = scenario
        self.rs = rs
        self.strict = scenario.practice.strict
        self.m_start, self.m_end = month_bounds(scenario.month)
        self.cands: list[_Cand] = []
        self.denied: list[Finding] = []
        self.flags: list[Finding] = []
        self.warnings: list[Finding] = []
        self.trace: list[str] = []
        self.institutional = scenario.practice.type in ("rhc", "fqhc")
        p = scenario.patient
        self.conditions = sorted({c.strip().upper() for c in p.chronic_conditions if c.strip()})
        self.qmb_in_month = any(s <= self.m_end and (e is None or e >= self.m_start) for s, e in p.qmb_periods)
        self.members = self._practice_members()
        self.claims_in_month = [c for c in scenario.other_claims if self.in_month(c.date)]
        self.apcm_line: _Cand | None = None
        self.addon_programs: set[tuple[str, str]] = set()  # (practitioner, program) covered by an add-on

    # ---------- helpers ----------
    def in_month(self, day: dt.date | None) -> bool:
        return day is not None and self.m_start <= day <= self.m_end

    def active(self, e: Enrollment) -> bool:
        return e.start <= self.m_end and (e.end is None or e.end >= self.m_start)

    def consented(self, e: Enrollment) -> bool:
        return e.consent_date is not None and e.consent_date <= self.m_end

    def enrollments(self, program: str, practitioner: str | None = None) -> list[Enrollment]:
        return [e for e in self.s.enrollments if e.program.upper() == program and self.active(e)
                and (practitioner is None or e.practitioner == practitioner)]

    def qmb_on(self, day: dt.date) -> bool:
        return any(s <= day and (e is None or e >= day) for s, e in self.s.patient.qmb_periods)

    def _practice_members(self) -> set[str]:
        s = self.s
        members = {e.practitioner for e in s.enrollments} | {t.practitioner for t in s.time_entries}
        members |= {d.practitioner for d in s.device_days if d.practitioner}
        members |= {e.practitioner for e in s.episodes if e.practitioner}
        ptin = s.practice.tin
        for pr in s.practitioners:
            if not pr.tin or not ptin or pr.tin == ptin:
                members.add(pr.id)
        return members

    def tin(self, practitioner: str) -> str:
        for pr in self.s.practitioners:
            if pr.id == practitioner and pr.tin:
                return pr.tin
        return self.s.practice.tin if practitioner in self.members else ""

    def same_npi(self, a: str, b: str) -> bool:
        if a == b:
            return True
        npis = {pr.id: pr.npi for pr in self.s.practitioners if pr.npi}
        return bool(npis.get(a)) and npis.get(a) == npis.get(b)

    def apcm_blocks(self, practitioner: str) -> bool:
        """Whether APCM this month excludes this practitioner's duplicative codes (APCM-008 / RHC-003).

        The exclusion is reported in preference to the code's own requirements (consent, minutes, visit)."""
        base_codes = self.codes("APCM_BASE")
        pracs = [self.apcm_line.practitioner] if self.apcm_line else []
        pracs += [c.practitioner for c in self.claims_in_month if c.code in base_codes and c.practitioner]
        if not pracs:
            return False
        return self.institutional or any(self.same_npi(practitioner, p) for p in pracs)

    def default_practitioner(self, *programs: str) -> str:
        for prog in programs:
            for e in self.enrollments(prog):
                return e.practitioner
        for e in self.s.enrollments:
            if self.active(e):
                return e.practitioner
        if self.s.enrollments:
            return self.s.enrollments[0].practitioner
        if self.s.time_entries:
            return self.s.time_entries[0].practitioner
        return ""

    def minutes(self, program: str, practitioner: str, staff: Iterable[str] = CLINICAL) -> int:
        kinds = set(staff)
        return sum(t.minutes for t in self.s.time_entries
                   if t.program.upper() == program and t.practitioner == practitioner and t.staff_type in kinds
                   and self.in_month(t.date))

    def interactive(self, program: str, practitioner: str) -> bool:
        return any(t.interactive and t.minutes > 0 for t in self.s.time_entries
                   if t.program.upper() == program and t.practitioner == practitioner and self.in_month(t.date)
                   and t.staff_type in CLINICAL)

    def time_practitioners(self, program: str) -> list[str]:
        out: list[str] = []
        for t in self.s.time_entries:
            if t.program.upper() == program and self.in_month(t.date) and t.practitioner not in out:
                out.append(t.practitioner)
        return out

    def non_clinical(self, program: str, practitioner: str) -> int:
        return self.minutes(program, practitioner, ("non_clinical",))

    def codes(self, name: str) -> frozenset[str]:
        return self.rs.codes(name)

    def history(self, codes: frozenset[str], before: dt.date) -> list[OtherClaim]:
        """Claims for ``codes`` before ``before`` (other_claims plus earlier visits)."""
        return [c for c in (*self.s.other_claims, *self.s.visits) if c.code in codes and c.date < before]

    # ---------- findings ----------
    def finding(self, rule_id: str, code: str, reason: str, practitioner: str | None,
                check: str | None = None) -> str:
        self.note(rule_id)
        eff = self.rs.effect(rule_id, self.strict, check)
        f = Finding(code=code, rule_id=rule_id, reason=reason, practitioner=practitioner)
        if eff == "deny":
            self.denied.append(f)
        elif eff in ("flag", "flag_if_mismatch"):
            self.flags.append(f)
        elif eff == "warn":
            self.warnings.append(f)
        return eff

    def note(self, rule_id: str) -> None:
        if rule_id not in self.trace:
            self.trace.append(rule_id)

    def reject(self, cand: _Cand, rule_id: str, reason: str, check: str | None = None,
               cascade: bool = True) -> bool:
        """Apply a failed requirement to a line: deny it (and its add-ons) or flag/warn it. True if denied."""
        if cand.denied:
            return True
        eff = self.finding(rule_id, cand.code, reason, cand.practitioner, check)
        cand.add_rule(rule_id)
        if eff != "deny":
            return False
        cand.denied = True
        if cascade:
            for child in self.cands:
                if child.parent is cand and not child.denied:
                    child.denied = True
                    self.denied.append(Finding(child.code, rule_id, f"add-on to {cand.code}, which is denied: "
                                               f"{reason}", child.practitioner))
        return True

    def add(self, cand: _Cand) -> _Cand:
        if not self.rs.valid(cand.code):
            self.note("CODE-001")
            self.reject(cand, "CODE-001", f"{cand.code} is not a valid code in ruleset {self.rs.name}")
        self.cands.append(cand)
        return cand

    def live(self, codes: frozenset[str] | None = None) -> list[_Cand]:
        return [c for c in self.cands if not c.denied and (codes is None or c.code in codes)]

    def monthly(self, code: str, units: int, practitioner: str, rule_ids: list[str], family: str,
                facts: dict[str, Any] | None = None, parent: _Cand | None = None) -> _Cand:
        return self.add(_Cand(code, units, practitioner, list(rule_ids), self.m_end, family,
                              facts=dict(facts or {}), diagnoses=tuple(self.conditions), parent=parent))

    # ---------- APCM ----------
    def apcm(self) -> None:
        enrolled = self.enrollments("APCM")
        if not enrolled:
            return
        n = len(self.conditions)
        code, level_rule = self.apcm_level()
        for r in ("APCM-001", level_rule, "APCM-005"):
            self.note(r)
        # preference: enrolled on the month's last day, then the earliest start, then the practitioner id
        enrolled.sort(key=lambda e: (not (e.end is None or e.end >= self.m_end), e.start, e.practitioner))
        base_codes = self.codes("APCM_BASE")
        billed_elsewhere = [c for c in self.claims_in_month if c.code in base_codes]
        chosen: _Cand | None = None
        for e in enrolled:
            cand = self.monthly(code, 1, e.practitioner, ["APCM-001", level_rule, "APCM-005", "APCM-006", "APCM-007"],
                                "APCM", {"chronic_condition_count": n, "chronic_conditions": ", ".join(self.conditions),
                                          "qmb_in_month": self.qmb_in_month, "enrollment_start": e.start.isoformat(),
                                          "consent_date": e.consent_date.isoformat() if e.consent_date else None})
            if cand.denied:
                continue
            if not self._apcm_consent(cand, e) or not self._apcm_initiating_visit(cand, e):
                continue
            if billed_elsewhere:
                other = billed_elsewhere[0]
                self.reject(cand, "APCM-001", f"an APCM base code ({other.code}) is already billed for this "
                                              f"patient-month by {other.practitioner or 'another practitioner'} on "
                                              f"{other.date}; one APCM code per patient per month")
                continue
            if chosen is not None:
                self.reject(cand, "APCM-001", f"one APCM base code per patient-month across all practitioners; "
                                              f"{chosen.code} is billed by {chosen.practitioner}")
                continue
            chosen = cand
        if chosen is None:
            return
        self.apcm_line = chosen
        self._apcm_flags(chosen)

    def _apcm_consent(self, cand: _Cand, e: Enrollment) -> bool:
        self.note("APCM-006")
        if e.consent_date is None:
            return not self.reject(cand, "APCM-006", "no APCM consent on file")
        if e.consent_date > self.m_end:
            return not self.reject(cand, "APCM-006", f"APCM consent dated {e.consent_date}, after the service month "
                                                     f"{self.s.month}")
        required = [str(d) for d in self.rs.param("APCM-006", "required_disclosures", [])]
        if e.consent_disclosures is not None:
            missing = [d for d in required if d not in e.consent_disclosures]
            if missing:
                return not self.reject(cand, "APCM-006", f"APCM consent lacks the disclosures {', '.join(missing)}")
        return True

    def _visit_dates(self, codes: frozenset[str]) -> list[dt.date]:
        out = [c.date for c in (*self.s.other_claims, *self.s.visits)
               if c.code in codes and (not c.practitioner or c.practitioner in self.members)]
        return out

    def _apcm_initiating_visit(self, cand: _Cand, e: Enrollment) -> bool:
        self.note("APCM-007")
        years = int(self.rs.param("APCM-007", "visit_lookback_years", 3))
        months = int(self.rs.param("APCM-007", "care_management_lookback_months", 12))
        visits = self._visit_dates(self.rs.codes_of(self.rs.param("APCM-007", "visit_codes", "INITIATING_VISIT")))
        if self.s.patient.last_visit_by_practice:
            visits.append(self.s.patient.last_visit_by_practice)
        if e.initiating_visit:
            visits.append(e.initiating_visit)
        lo = add_years(e.start, -years)
        seen = [v for v in visits if lo <= v <= self.m_end]
        if seen:
            cand.facts["initiating_visit_evidence"] = f"visit {max(seen)} (within {years} years before APCM start " \
                                                      f"{e.start} or on/after it)"
            return True
        cm_codes = self.rs.codes_of(self.rs.param("APCM-007", "care_management_codes", "CARE_MANAGEMENT"))
        cms = self._visit_dates(cm_codes)
        if self.s.patient.last_care_management:
            cms.append(self.s.patient.last_care_management)
        lo_cm = add_months(e.start, -months)
        recent = [d for d in cms if lo_cm <= d <= self.m_end]
        if recent:
            cand.facts["initiating_visit_evidence"] = f"care management {max(recent)} within {months} months " \
                                                      f"before APCM start (exemption)"
            return True
        last = self.s.patient.last_visit_by_practice
        why = f"last visit {last}" if last else "no visit by the practice on record"
        return not self.reject(cand, "APCM-007", f"initiating visit missing: {why}; no E/M, AWV or IPPE within "
                                                 f"{years} years before APCM start {e.start} (or by {self.m_end}) and "
                                                 f"no care management within {months} months")

    def _apcm_flags(self, cand: _Cand) -> None:
        pr = next((p for p in self.s.practitioners if p.id == cand.practitioner), None)
        self.note("APCM-011")
        if not self.institutional and pr is not None and pr.apcm_perf_pathway is not None:
            allowed = [str(x) for x in self.rs.param("APCM-011", "pathways", [])]
            if pr.apcm_perf_pathway not in allowed:
                self.reject(cand, "APCM-011", f"practitioner {cand.practitioner} has no APCM performance-measurement "
                                              f"pathway ({pr.apcm_perf_pathway}); one of {', '.join(allowed)}")
        caps = self.s.practice.capabilities
        self.note("APCM-012")
        if caps is not None:
            needed = [str(c) for c in self.rs.param("APCM-012", "capabilities", [])]
            current = {c.key for c in caps if c.effective_from <= self.m_end
                       and (c.effective_to is None or c.effective_to >= self.m_start)}
            missing = [k for k in needed if k not in current]
            if missing:
                self.reject(cand, "APCM-012", f"practice capabilities without current evidence for {self.s.month}: "
                                              f"{', '.join(missing)}")
        if self.rs.has("APCM-013") and self.s.patient.apcm_monthly_activity is False:
            self.reject(cand, "APCM-013", "no documented APCM activity or monthly attestation for the patient-month")

    # ---------- APCM behavioral-health add-ons ----------
    def bh_addons(self) -> None:
        """G0568-G0570 instead of standalone BHI/CoCM when the APCM practitioner furnishes them (2026).

        An add-on is intended when the practitioner has an active APCM enrollment and BHI/CoCM activity (enrollment
        or time) and neither enrollment opts out (bh_addon false), or when a BHI/CoCM enrollment explicitly asks for
        it (bh_addon true in the scenario). Without its base the add-on is denied (APCMBH-001) and the program's
        minutes are evaluated for the standalone code instead."""
        available = self.rs.has("APCMBH-001") and bool(self.codes("APCM_BH_ADDON"))
        dos_gte = self.rs.param("APCMBH-001", "dos_gte") if available else None
        if isinstance(dos_gte, dt.date) and self.m_end < dos_gte:
            available = False
        for prog, code_first, code_later, fallback in (
            ("BHI", "bhi_code", "bhi_code", "G0570"), ("COCM", "cocm_first_month_code", "cocm_later_code", "G0569"),
        ):
            for prac in self._program_practitioners(prog):
                apcm_enr = self.enrollments("APCM", prac)
                prog_enr = self.enrollments(prog, prac)
                requested = any(e.addon_requested for e in prog_enr)
                implied = bool(apcm_enr) and all(e.bh_addon for e in (*apcm_enr, *prog_enr))
                if not (requested or implied):
                    continue
                if not available:
                    if requested:
                        code = fallback if prog == "BHI" else ("G0568" if self._cocm_first_month(prac) else "G0569")
                        cand = self.monthly(code, 1, prac, ["CODE-001"], "APCM_BH")
                        if not cand.denied:
                            self.reject(cand, "CODE-001", f"the APCM behavioral-health add-ons do not exist in "
                                                          f"ruleset {self.rs.name}")
                    continue
                first = self._cocm_first_month(prac) if prog == "COCM" else True
                code = str(self.rs.param("APCMBH-001", code_first if first else code_later))
                cand = self.monthly(code, 1, prac, ["APCMBH-001", "APCMBH-002"], "APCM_BH",
                                    {"bh_program": prog, "first_cocm_month": first if prog == "COCM" else None})
                self.note("APCMBH-002")
                if not self.s.patient.bh_diagnosis:
                    self.reject(cand, "APCMBH-001", f"{code} is for an APCM patient with a behavioral-health "
                                                    "condition; none recorded", check="bh_condition")
                    continue
                base = self.apcm_line
                if base is None or base.practitioner != prac:
                    who = f"billed by {base.practitioner}" if base else "not billed this month"
                    self.reject(cand, "APCMBH-001", f"{code} is an add-on: it needs an APCM base code billed by the "
                                                    f"same practitioner {prac} in the same month (APCM base {who})",
                                check="base")
                    continue
                cand.parent = base
                self.addon_programs.add((prac, prog))

    def _program_practitioners(self, prog: str) -> list[str]:
        out = [e.practitioner for e in self.enrollments(prog)]
        for p in self.time_practitioners(prog):
            if p not in out:
                out.append(p)
        return out

    def _cocm_first_month(self, prac: str) -> bool:
        enr = self.enrollments("COCM", prac) or self.enrollments("COCM")
        if enr:
            return min(e.start for e in enr) >= self.m_start
        prior = self.codes("COCM") | self.codes("APCM_BH_ADDON")
        return not any(c.code in prior and c.date < self.m_start for c in self.s.other_claims)

    # ---------- CCM ----------
    def ccm(self) -> None:
        pracs = self._program_practitioners("CCM")
        cp = self.s.patient
        complex_mdm = [str(x) for x in self.rs.param("CCM-002", "mdm", ["moderate", "high"])]
        for prac in pracs:
            staff = self.minutes("CCM", prac, STAFF)
            own = self.minutes("CCM", prac, PRACTITIONER)
            nonclin = self.non_clinical("CCM", prac)
            if nonclin:
                self.note("CCM-001")
                self.warnings.append(Finding("99490", "CCM-001", f"{nonclin} non-clinical minutes by {prac} do not "
                                                                 "count toward CCM", prac))
            if staff + own == 0:
                continue
            blocked = self.apcm_blocks(prac)
            c_base = self.rs.param("CCM-002", "base")
            c_add = self.rs.param("CCM-002", "addon")
            n_base = self.rs.param("CCM-001", "base")
            n_add = self.rs.param("CCM-001", "addon")
            p_base = self.rs.param("CCM-003", "base")
            p_add = self.rs.param("CCM-003", "addon")
            complex_intended = cp.mdm is not None or cp.care_plan_established_or_revised
            complex_ok = (staff >= c_base["min_minutes"] and cp.mdm in complex_mdm
                          and cp.care_plan_established_or_revised)
            facts = {"clinical_staff_minutes": staff, "practitioner_minutes": own, "non_clinical_minutes": nonclin}
            for r in ("CCM-001", "CCM-002", "CCM-003", "CCM-004"):
                self.note(r)
            if complex_intended and not complex_ok:
                why = []
                if staff < c_base["min_minutes"]:
                    why.append(f"{staff} clinical-staff minutes (< {c_base['min_minutes']})")
                if cp.mdm not in complex_mdm:
                    why.append(f"MDM {cp.mdm or 'not documented'} (needs {' or '.join(complex_mdm)})")
                if not cp.care_plan_established_or_revised:
                    why.append("care plan not established or substantially revised this month")
                self.finding("CCM-002", str(c_base["code"]), "complex CCM not met: " + "; ".join(why)
                             + "; evaluated as non-complex CCM", prac)
            if complex_ok:
                base = self.monthly(str(c_base["code"]), 1, prac, ["CCM-002", "CCM-004"], "CCM", facts=facts)
                self._ccm_addon(base, staff - c_base["min_minutes"], c_add, "CCM-002", facts)
                if own >= p_base["min_minutes"]:
                    self.warnings.append(Finding(str(p_base["code"]), "CCM-004", "one CCM base code per month: "
                                                 f"{c_base['code']} billed, {own} practitioner minutes not billed",
                                                 prac))
            elif own >= p_base["min_minutes"]:
                base = self.monthly(str(p_base["code"]), 1, prac, ["CCM-003", "CCM-004"], "CCM", facts=facts)
                self._ccm_addon(base, own - p_base["min_minutes"], p_add, "CCM-003", facts)
                if staff >= n_base["min_minutes"]:
                    self.warnings.append(Finding(str(n_base["code"]), "CCM-004", "one CCM base code per month: "
                                                 f"{p_base['code']} billed for the practitioner's own time; {staff} "
                                                 "clinical-staff minutes not billed", prac))
            elif staff >= n_base["min_minutes"]:
                base = self.monthly(str(n_base["code"]), 1, prac, ["CCM-001", "CCM-004"], "CCM", facts=facts)
                self._ccm_addon(base, staff - n_base["min_minutes"], n_add, "CCM-001", facts)
            elif blocked:
                code = str(n_base["code"] if staff >= own else p_base["code"])
                self.monthly(code, 1, prac, ["CCM-001" if staff >= own else "CCM-003"], "CCM", facts=facts)
                continue
            else:
                if staff >= own:
                    cand = self.monthly(str(n_base["code"]), 1, prac, ["CCM-001"], "CCM", facts=facts)
                    self.reject(cand, "CCM-001", f"{staff} clinical-staff minutes in {self.s.month}; "
                                                 f"{n_base['code']} needs at least {n_base['min_minutes']}")
                else:
                    cand = self.monthly(str(p_base["code"]), 1, prac, ["CCM-003"], "CCM", facts=facts)
                    self.reject(cand, "CCM-003", f"{own} minutes of the practitioner's own time in {self.s.month}; "
                                                 f"{p_base['code']} needs at least {p_base['min_minutes']} "
                                                 "(clinical-staff minutes never count)")
                continue
            if not blocked:
                self._ccm_requirements(base, prac)

    def _ccm_addon(self, base: _Cand, extra: int, spec: dict[str, Any], rule_id: str,
                   facts: dict[str, Any]) -> None:
        units = extra // int(spec["increment_minutes"]) if extra > 0 else 0
        if units <= 0:
            return
        add = self.monthly(str(spec["code"]), units, base.practitioner, [rule_id], "CCM", facts=facts, parent=base)
        cap_code = str(self.rs.param("CCM-007", "code", "99439"))
        cap = int(self.rs.param("CCM-007", "max_units", 2))
        self.note("CCM-007")
        if add.code == cap_code and units > cap:
            self.reject(add, "CCM-007", f"{units} units of {add.code}; the Medicare unit cap is commonly {cap} "
                                        "(UNCONFIRMED): review")

    def _ccm_requirements(self, base: _Cand, prac: str) -> None:
        self.note("CCM-006")
        need = int(self.rs.param("CCM-006", "min_conditions", 2))
        if len(self.conditions) < need:
            self.reject(base, "CCM-006", f"{len(self.conditions)} qualifying chronic condition(s); CCM needs at "
                                         f"least {need}", check="conditions")
            return
        enr = self.enrollments("CCM", prac)
        if not enr:
            self.reject(base, "CCM-006", f"no CCM enrollment/consent for practitioner {prac}", check="consent")
            return
        if not any(self.consented(e) for e in enr):
            dates = [e.consent_date for e in enr if e.consent_date]
            why = f"consent dated {dates[0]}, after {self.s.month}" if dates else "no CCM consent on file"
            self.reject(base, "CCM-006", why, check="consent")
            return
        months = int(self.rs.param("CCM-006", "visit_lookback_months", 12))
        visits = self._visit_dates(self.rs.codes_of(self.rs.param("CCM-006", "visit_codes", "INITIATING_VISIT")))
        if self.s.patient.last_visit_by_practice:
            visits.append(self.s.patient.last_visit_by_practice)
        start = min(e.start for e in enr)
        visits += [e.initiating_visit for e in enr if e.initiating_visit]
        if not any(v <= self.m_end for v in visits):
            # a new patient (no E/M, AWV or IPPE by the practice on record): the initiating visit is required
            # (cms-rules 3.1, S); only the 1-year window for patients seen before is UNCONFIRMED
            self.reject(base, "CCM-006", "no initiating visit: no E/M, AWV or IPPE by the practice on record "
                                         "(new patient)", check="new_patient")
        elif not any(add_months(start, -months) <= v <= self.m_end for v in visits):
            self.reject(base, "CCM-006", f"no initiating visit: patient not seen by the practice within {months} "
                                         f"months before CCM start {start}", check="initiating_visit")

    # ---------- PCM ----------
    def pcm(self) -> None:
        spec_p = self.rs.param("PCM-001", "practitioner")
        spec_s = self.rs.param("PCM-001", "clinical_staff")
        for prac in self._program_practitioners("PCM"):
            own = self.minutes("PCM", prac, PRACTITIONER)
            staff = self.minutes("PCM", prac, STAFF)
            if own + staff == 0:
                continue
            self.note("PCM-001")
            facts: dict[str, Any] = {"clinical_staff_minutes": staff, "practitioner_minutes": own}
            cond = self.s.patient.pcm_condition or (self.conditions[0] if self.conditions else None)
            blocked = self.apcm_blocks(prac)
            if own >= spec_p["base"]["min_minutes"]:
                spec, mins = spec_p, own
            elif staff >= spec_s["base"]["min_minutes"]:
                spec, mins = spec_s, staff
            else:
                spec, mins = (spec_p, own) if own >= staff else (spec_s, staff)
                cand = self.monthly(str(spec["base"]["code"]), 1, prac, ["PCM-001"], "PCM", facts=facts)
                if blocked:
                    continue
                self.reject(cand, "PCM-001", f"{mins} minutes in {self.s.month}; {spec['base']['code']} needs at "
                                             f"least {spec['base']['min_minutes']}")
                continue
            facts["pcm_condition"] = cond
            base = self.monthly(str(spec["base"]["code"]), 1, prac, ["PCM-001"], "PCM", facts)
            base.diagnoses = (cond,) if cond else ()
            extra = mins - int(spec["base"]["min_minutes"])
            units = extra // int(spec["addon"]["increment_minutes"])
            if units > 0:
                add = self.monthly(str(spec["addon"]["code"]), units, prac, ["PCM-001"], "PCM", facts, parent=base)
                add.diagnoses = base.diagnoses
            if blocked:
                continue
            if cond is None:
                self.reject(base, "PCM-001", "PCM needs a single complex chronic condition; none recorded")
                continue
            enr = self.enrollments("PCM", prac)
            if not any(self.consented(e) for e in enr):
                self.reject(base, "PCM-001", f"no PCM enrollment with consent on or before {self.m_end} for {prac}")

    # ---------- TCM ----------
    def tcm(self) -> None:
        qualifying = {str(x) for x in self.rs.param("TCM-001", "qualifying_settings", [])}
        community = {str(x) for x in self.rs.param("TCM-001", "community_settings", [])}
        period = int(self.rs.param("TCM-001", "period_days", 30))
        bdays = int(self.rs.param("TCM-002", "business_days", 2))
        min_attempts = int(self.rs.param("TCM-002", "min_attempts", 2))
        tiers = self.rs.param("TCM-003", "tiers", [])
        tcm_codes = self.codes("TCM")
        billed_periods: list[tuple[dt.date, dt.date]] = []
        for ep in sorted(self.s.episodes, key=lambda e: e.discharge):
            prac = ep.practitioner or self.default_practitioner("APCM", "CCM")
            report = self.in_month(ep.visit) or (ep.visit is None and self.in_month(ep.discharge))
            deadline = add_business_days(ep.discharge, bdays)
            days = (ep.visit - ep.discharge).days if ep.visit else None
            tier = next((t for t in tiers if days is not None and days <= t["max_days"] and ep.mdm in t["mdm"]), None)
            code = str(tier["code"]) if tier else ("99496" if ep.mdm == "high" else "99495")
            period_end = ep.discharge + dt.timedelta(days=period - 1)
            cand = _Cand(code, 1, prac, ["TCM-001", "TCM-002", "TCM-003"], ep.visit or ep.discharge, "TCM",
                         facts={"discharge": ep.discharge.isoformat(), "setting": ep.setting,
                                "contact_deadline": deadline.isoformat(),
                                "contact": ep.contact.isoformat() if ep.contact else None,
                                "attempts": len(ep.attempts), "visit_day": days, "mdm": ep.mdm,
                                "period_end": period_end.isoformat()},
                         diagnoses=tuple(self.conditions), dated=True)
            if report:
                self.add(cand)
            # an episode whose visit is in another month is evaluated for the one-per-period rule only
            blocked = report and self.apcm_blocks(prac)
            ok = blocked or self._tcm_checks(cand, ep, qualifying, community, deadline, min_attempts, tier, days,
                                             report)
            if blocked:
                continue
            if ok and not report:
                billed_periods.append((ep.discharge, period_end))
            elif ok and not cand.denied:
                earlier = next(((s, e) for s, e in billed_periods if s <= ep.discharge <= e), None)
                others = [c for c in self.s.other_claims if c.code in tcm_codes
                          and ep.discharge - dt.timedelta(days=period - 1) <= c.date <= period_end]
                self.note("TCM-001")
                if earlier:
                    self.reject(cand, "TCM-001", f"discharge {ep.discharge} falls in the 30-day TCM period "
                                                 f"{earlier[0]}..{earlier[1]} already billed; one TCM per period")
                elif others:
                    o = others[0]
                    self.reject(cand, "TCM-001", f"TCM {o.code} already billed on {o.date} by "
                                                 f"{o.practitioner or 'another practitioner'} within 30 days of "
                                                 f"discharge {ep.discharge}; one TCM per 30-day period")
                else:
                    billed_periods.append((ep.discharge, period_end))
            if report and not cand.denied and ep.medrec and ep.visit and ep.medrec > ep.visit:
                self.reject(cand, "TCM-004", f"medication reconciliation {ep.medrec} is after the face-to-face "
                                             f"visit {ep.visit}")

    def _tcm_checks(self, cand: _Cand, ep: Episode, qualifying: set[str], community: set[str],
                    deadline: dt.date, min_attempts: int, tier: dict[str, Any] | None, days: int | None,
                    report: bool) -> bool:
        def fail(rule_id: str, reason: str) -> bool:
            if report:
                self.reject(cand, rule_id, reason)
            cand.denied = True
            return False

        for r in ("TCM-001", "TCM-002", "TCM-003"):
            self.note(r)
        if not _matches(ep.setting, qualifying):
            return fail("TCM-001", f"discharge from {ep.setting!r} does not qualify for TCM (needs an inpatient, "
                                   "observation, SNF or similar stay)")
        if not _matches(ep.discharged_to, community):
            return fail("TCM-001", f"discharged to {ep.discharged_to!r}, not a community setting")
        contact_ok = ep.contact is not None and ep.discharge <= ep.contact <= deadline
        timely = [a for a in ep.attempts if ep.discharge <= a <= deadline]
        if not contact_ok and len(timely) < min_attempts:
            if ep.contact is not None:
                why = f"contact on {ep.contact}, after the deadline {deadline} (2 business days after {ep.discharge})"
            else:
                why = f"no interactive contact by {deadline} (2 business days after discharge {ep.discharge})"
            return fail("TCM-002", f"{why} and {len(timely)} timely documented attempt(s) (needs {min_attempts})")
        if ep.visit is None:
            return fail("TCM-003", f"no face-to-face visit after discharge {ep.discharge}")
        if tier is None:
            max_days = max((int(t["max_days"]) for t in self.rs.param("TCM-003", "tiers", [])), default=14)
            if ep.mdm is None:
                return fail("TCM-003", "MDM not documented; TCM needs moderate (99495) or high (99496) MDM")
            if days is not None and days > max_days:
                return fail("TCM-003", f"face-to-face visit {ep.visit} is {days} days after discharge; the limit is "
                                       f"{max_days} calendar days (7 for 99496)")
            return fail("TCM-003", f"MDM {ep.mdm}; TCM needs moderate (99495, visit within 14 days) or high "
                                   "(99496, visit within 7 days)")
        return True

    # ---------- RPM / RTM ----------
    def remote(self, program: str) -> None:
        is_rpm = program == "RPM"
        dev_rule, mgmt_rule = ("RPM-001", "RPM-002") if is_rpm else ("RTM-001", "RTM-002")
        setup_rule = "RPM-005" if is_rpm else "RTM-003"
        default_prac = self.default_practitioner(program, "APCM", "CCM")
        setup_code = str(self.rs.param(setup_rule, "setup_code"))
        setup_min = int(self.rs.param(setup_rule, "setup_min_days", 2))
        device_codes = self.codes("RPM_DEVICE" if is_rpm else "RTM_DEVICE")
        setup_codes = frozenset({setup_code})
        seen_periods: list[tuple[dt.date, dt.date, str]] = []
        setups: list[dt.date] = []  # episode starts whose setup code is billed in this evaluation
        one_prac_rule = "RPM-003" if is_rpm else dev_rule
        for d in sorted(self.s.device_days, key=lambda x: x.period_start):
            if d.program.upper() != program:
                continue
            if not self.in_month(d.period_start):
                self.warnings.append(Finding("", dev_rule, f"{program} period starting {d.period_start} is "
                                                           f"evaluated in its own month", None))
                continue
            prac = d.practitioner or default_prac
            pend = d.period_start + dt.timedelta(days=29)
            self.note(dev_rule)
            if is_rpm:
                tiers = self.rs.param(dev_rule, "tiers", [])
            else:
                tiers = (self.rs.param(dev_rule, "tiers", {}) or {}).get(d.category, [])
            tier = next((t for t in tiers if t["min_days"] <= d.days <= t["max_days"]), None)
            facts = {"data_days": d.days, "period_start": d.period_start.isoformat(), "period_end": pend.isoformat()}
            if not is_rpm:
                facts["category"] = d.category
            if tier is None:
                code = str(min(tiers, key=lambda t: t["min_days"])["code"]) if tiers else sorted(device_codes)[0]
                cand = self.monthly(code, 1, prac, [dev_rule], program, facts=facts)
                if not tiers:
                    self.reject(cand, dev_rule, f"RTM category {d.category or 'not recorded'!r} is not one of "
                                                "respiratory, msk, cbt")
                else:
                    lo = min(int(t["min_days"]) for t in tiers)
                    self.reject(cand, dev_rule, f"{d.days} data days in the 30-day period from {d.period_start}; "
                                                f"device supply needs at least {lo}")
                dev = None
            else:
                dev = self.monthly(str(tier["code"]), 1, prac, [dev_rule], program, facts=facts)
            mine: list[_Cand] = [dev] if dev is not None else []
            if d.setup:
                s_cand = self.monthly(setup_code, 1, prac, [setup_rule], program, facts=facts)
                mine.append(s_cand)
                self.note(setup_rule)
                episode_start = d.episode_start or d.period_start
                prior = [c.date for c in self.s.other_claims if c.code in setup_codes and c.date >= episode_start
                         and c.date < d.period_start + dt.timedelta(days=30)]
                prior += [e for e in setups if e == episode_start]
                if d.days < setup_min:
                    self.reject(s_cand, setup_rule, f"{setup_code} needs at least {setup_min} data days; "
                                                    f"{d.days} recorded")
                elif prior:
                    self.reject(s_cand, setup_rule, f"{setup_code} is billed once per episode of care; already billed "
                                                    f"for the episode starting {episode_start} ({prior[0]})")
                if not s_cand.denied:
                    setups.append(episode_start)
            # one practitioner per 30-day period; one device code per period
            for cand in [c for c in mine if not c.denied]:
                overlapping = [p for s, e, p in seen_periods if s <= pend and d.period_start <= e]
                clash = next((p for p in overlapping if p != prac), None)
                rpm003 = one_prac_rule
                others = [c for c in self.s.other_claims if c.code in (device_codes | setup_codes)
                          and d.period_start <= c.date <= pend]
                self.note(rpm003)
                if clash:
                    self.reject(cand, rpm003, f"{program} device/setup codes already billed by {clash} for an "
                                              "overlapping 30-day period; one practitioner per period")
                elif any(c.practitioner and c.practitioner != prac for c in others if c.code in device_codes
                         or c.code in setup_codes):
                    o = next(c for c in others if c.practitioner != prac)
                    self.reject(cand, rpm003, f"{o.code} billed by {o.practitioner} on {o.date} in the same "
                                              "30-day period; one practitioner per period")
                elif cand.code in device_codes and overlapping:
                    self.reject(cand, dev_rule, f"a device-supply code is already billed for a 30-day period "
                                                f"overlapping {d.period_start}..{pend}; one per period")
                elif cand.code in device_codes and any(c.code in device_codes for c in others):
                    o = next(c for c in others if c.code in device_codes)
                    self.reject(cand, dev_rule, f"{o.code} already billed on {o.date} for this 30-day period; "
                                                "one device-supply code per period")
            for cand in mine:
                if not cand.denied:
                    cand.add_rule(one_prac_rule)
            if dev is not None and not dev.denied:
                seen_periods.append((d.period_start, pend, prac))
        # management time, per calendar month
        spec_tiers = self.rs.param(mgmt_rule, "tiers", [])
        addon = self.rs.param(mgmt_rule, "addon")
        for prac in self.time_practitioners(program):
            mins = self.minutes(program, prac)
            if mins <= 0:
                continue
            self.note(mgmt_rule)
            interactive = self.interactive(program, prac)
            facts = {"management_minutes": mins, "interactive": interactive}
            tier = next((t for t in spec_tiers if mins >= t["min_minutes"]
                         and ("max_minutes" not in t or mins <= t["max_minutes"])), None)
            if tier is None:
                low = min(spec_tiers, key=lambda t: t["min_minutes"])
                cand = self.monthly(str(low["code"]), 1, prac, [mgmt_rule], program, facts=facts)
                self.reject(cand, mgmt_rule, f"{mins} management minutes in {self.s.month}; {low['code']} needs at "
                                             f"least {low['min_minutes']}")
                continue
            base = self.monthly(str(tier["code"]), 1, prac, [mgmt_rule], program, facts=facts)
            if addon and str(addon["requires"]) == base.code:
                units = (mins - int(tier["min_minutes"])) // int(addon["increment_minutes"])
                if units > 0:
                    self.monthly(str(addon["code"]), units, prac, [mgmt_rule], program, facts=facts, parent=base)
            if self.rs.param(mgmt_rule, "interactive_required", True) and not interactive:
                self.reject(base, mgmt_rule, f"no real-time interactive communication with the patient in "
                                             f"{self.s.month}")
        # one practitioner bills the month's management code (one per month; one practitioner per period)
        mgmt_codes = frozenset(str(t["code"]) for t in spec_tiers)
        bases = sorted((c for c in self.live(mgmt_codes) if c.family == program),
                       key=lambda c: (-int(c.facts.get("management_minutes", 0)), c.practitioner))
        billed = [c for c in self.claims_in_month if c.code in mgmt_codes]
        for i, cand in enumerate(bases):
            other = next((c for c in billed if c.practitioner != cand.practitioner), None)
            if other is not None:
                who = other.practitioner or "another practitioner"
                self.reject(cand, one_prac_rule, f"{other.code} already billed by {who} on {other.date}; one "
                                                 "practitioner per period")
            elif i > 0:
                self.reject(cand, one_prac_rule, f"{program} management is billed by {bases[0].practitioner} this "
                                                 "month; one practitioner per period")
        if is_rpm and not self.s.patient.established:
            for cand in self.live(self.codes("RPM_ALL")):
                self.reject(cand, "RPM-005", "RPM requires an established patient", cascade=False)

    # ---------- BHI / CoCM ----------
    def bhi(self) -> None:
        spec_code = str(self.rs.param("BHI-001", "code", "99484"))
        need = int(self.rs.param("BHI-001", "min_minutes", 20))
        for prac in self._program_practitioners("BHI"):
            if (prac, "BHI") in self.addon_programs:
                continue
            mins = self.minutes("BHI", prac)
            if mins <= 0:
                continue
            self.note("BHI-001")
            cand = self.monthly(spec_code, 1, prac, ["BHI-001"], "BHI", {"bhi_minutes": mins})
            if not self.s.patient.bh_diagnosis:
                self.reject(cand, "BHI-001", "99484 needs a behavioral-health condition; none recorded")
            elif mins < need:
                self.reject(cand, "BHI-001", f"{mins} minutes in {self.s.month}; {spec_code} needs at least {need}")

    def cocm(self) -> None:
        p1 = self.rs.rule("COCM-001").params
        p2 = self.rs.rule("COCM-002").params
        for prac in self._program_practitioners("COCM"):
            if (prac, "COCM") in self.addon_programs:
                continue
            mins = self.minutes("COCM", prac)
            if mins <= 0:
                continue
            self.note("COCM-001")
            self.note("COCM-002")
            first = self._cocm_first_month(prac)
            code = str(p1["first_month_code"] if first else p1["later_code"])
            minimum = int(p2["min_minutes"].get(code, 0))
            g2214 = str(p1.get("g2214", "G2214"))
            if mins < minimum and g2214 in p2["min_minutes"]:
                # below the 99492/99493 minimum: G2214 is the code for the first 30 minutes of the month, initial
                # or later (cms-rules 3.7), so the month is billed as G2214 rather than an under-time 99492/99493
                code, minimum = g2214, int(p2["min_minutes"][g2214])
            facts = {"cocm_minutes": mins, "first_cocm_month": first}
            cand = self.monthly(code, 1, prac, ["COCM-001", "COCM-002"], "COCM", facts=facts)
            if not self.s.patient.bh_diagnosis:
                self.reject(cand, "COCM-001", "CoCM needs a behavioral-health condition; none recorded")
                continue
            if mins < minimum:
                self.reject(cand, "COCM-002", f"{mins} BH care-manager minutes; {code} minimum is {minimum} "
                                              "(UNCONFIRMED midpoint rule): review")
            block = int(p2["base_block"].get(code, 60))
            extra = mins - block
            inc, mid = int(p2["addon_increment"]), int(p2["addon_min_minutes"])
            units = extra // inc + (1 if extra % inc >= mid else 0) if extra > 0 else 0
            if units > 0:
                add = self.monthly(str(p1["addon_code"]), units, prac, ["COCM-001", "COCM-002"], "COCM",
                                   facts=facts, parent=cand)
                if extra % inc >= mid:
                    self.reject(add, "COCM-002", f"{extra} minutes beyond the {block}-minute block; the last unit "
                                                 f"of {add.code} uses the UNCONFIRMED {mid}-minute midpoint: review")

    # ---------- visits (services furnished this month and proposed for billing) ----------
    def visits(self) -> None:
        for v in self.s.visits:
            if not self.in_month(v.date):
                self.warnings.append(Finding(v.code, "CODE-001", f"visit {v.code} on {v.date} is outside "
                                                                 f"{self.s.month}; evaluated in its own month",
                                             v.practitioner))
                continue
            self.note("VISIT-001")
            cand = self.add(_Cand(v.code, v.units, v.practitioner, ["VISIT-001"], v.date, "VISIT",
                                  diagnoses=tuple(self.conditions), dated=True, source="visit"))
            self._claim_edits(cand)
            if cand.denied:
                continue
            if v.code in self.codes("APCM_BASE"):
                self._proposed_apcm(cand)
            elif v.code in self.codes("APCM_BH_ADDON"):
                cand.dated = False
                cand.family = "APCM_BH"
                base = self.apcm_line
                billed_base = [c for c in self.claims_in_month if c.code in self.codes("APCM_BASE")
                               and c.practitioner == v.practitioner]
                cand.add_rule("APCMBH-001")
                if any(c.code == v.code and c.practitioner == v.practitioner and c is not cand
                       for c in self.live()):
                    cand.denied = True  # the same add-on is already derived from the enrollments
                    self.cands.remove(cand)
                elif not ((base is not None and base.practitioner == v.practitioner) or billed_base):
                    who = f"by {base.practitioner}" if base else "none billed"
                    self.reject(cand, "APCMBH-001", f"{v.code} is an add-on: it needs an APCM base code by the same "
                                                    f"practitioner {v.practitioner} in {self.s.month} (APCM base "
                                                    f"{who})", check="base")
                elif v.code == str(self.rs.param("APCMBH-001", "cocm_first_month_code", "G0568")) and \
                        not self._cocm_first_month(v.practitioner) and self.rs.has("APCMBH-003"):
                    self.reject(cand, "APCMBH-003", f"{v.code} only in the first month of a CoCM episode")
            elif v.code in self.codes("ACP"):
                awv = [c for c in self.s.visits if c.code in self.codes("AWV") and c.date == v.date]
                if awv:
                    cand.add_rule("ACP-001")
                    self.note("ACP-001")
                    cand.facts["modifier"] = str(self.rs.param("ACP-001", "modifier", "33"))
                    cand.facts["patient_share_applies"] = False
                    cand.facts["cost_share_waived"] = f"ACP with AWV {awv[0].code} on {v.date}"

    def apcm_level(self) -> tuple[str, str]:
        """(code, rule id) of the APCM level the patient qualifies for in the month (APCM-002..005)."""
        multi = int(self.rs.param("APCM-003", "min_conditions", 2))
        n = len(self.conditions)
        if n >= multi and self.qmb_in_month:
            return str(self.rs.param("APCM-004", "code", "G0558")), "APCM-004"
        if n >= multi:
            return str(self.rs.param("APCM-003", "code", "G0557")), "APCM-003"
        return str(self.rs.param("APCM-002", "code", "G0556")), "APCM-002"

    def _proposed_apcm(self, cand: _Cand) -> None:
        """An APCM code proposed in `visits`: checked against the level (APCM-002..004) and the enrollment."""
        cand.dated = False
        cand.dos = self.m_end
        cand.family = "APCM"
        level, _ = self.apcm_level()
        rule = {"G0556": "APCM-002", "G0557": "APCM-003", "G0558": "APCM-004"}.get(cand.code, "APCM-005")
        n = len(self.conditions)
        if cand.code != level:
            if rule == "APCM-002":
                why = f"G0556 is for 0-1 chronic conditions; {n} recorded"
            elif rule == "APCM-003" and n < 2:
                why = f"G0557 needs >= 2 chronic conditions; {n} recorded"
            elif rule == "APCM-004" and n < 2:
                why = f"G0558 needs >= 2 chronic conditions and QMB; {n} condition(s) recorded"
            elif rule == "APCM-004":
                why = f"G0558 needs QMB status in {self.s.month}; none recorded"
            else:
                why = f"the patient qualifies for {level}, not {cand.code}"
            self.reject(cand, rule, f"{why} (eligible level: {level}, APCM-005)")
            return
        cand.add_rule(rule)
        line = self.apcm_line
        if line is not None and line.practitioner == cand.practitioner:
            cand.denied = True  # the same code is already decided from the enrollment
            self.cands.remove(cand)
        elif line is not None:
            self.reject(cand, "APCM-001", f"one APCM base code per patient-month; {line.code} is billed by "
                                          f"{line.practitioner}")
        elif not self.enrollments("APCM", cand.practitioner):
            self.reject(cand, "APCM-006", f"no APCM enrollment with consent for {cand.practitioner}")
        else:
            denied = next((f for f in self.denied if f.code in self.codes("APCM_BASE")
                           and f.practitioner == cand.practitioner), None)
            self.reject(cand, denied.rule_id if denied else "APCM-001",
                        denied.reason if denied else "APCM not billable for this patient-month")

    def _claim_edits(self, cand: _Cand) -> None:
        """Edits that apply to one claimed code on its own: validity, RHC not-payable, AWV and G0136 frequency."""
        code, day = cand.code, cand.dos
        for rid in ("RHC-001", "RHC-002"):
            if self.rs.has(rid) and code in self.rs.codes_of(self.rs.param(rid, "codes")):
                frm = self.rs.param(rid, "not_payable_from")
                self.note(rid)
                cand.add_rule(rid)
                if isinstance(frm, dt.date) and day >= frm:
                    self.reject(cand, rid, f"{code} is not payable for dates of service from {frm}; report the "
                                           "individual care-management codes")
                    return
        if cand.denied:
            return
        if code == str(self.rs.param("AWV-001", "code", "G0438")):
            self.note("AWV-001")
            cand.add_rule("AWV-001")
            window = int(self.rs.param("AWV-001", "window_months", 12))
            prior = self.history(frozenset({code}), day)
            recent = self.history(self.rs.codes_of(self.rs.param("AWV-001", "window_codes")), day)
            recent = [c for c in recent if c.date > add_months(day, -window)]
            pb = self.s.patient.part_b_start
            if prior:
                self.reject(cand, "AWV-001", f"G0438 (initial AWV) is once per lifetime; already billed on "
                                             f"{prior[0].date} (CARC 149/N117)")
            elif recent:
                self.reject(cand, "AWV-001", f"{recent[0].code} on {recent[0].date} is within {window} months")
            elif pb and day < add_months(pb, int(self.rs.param("AWV-001", "part_b_months", 12))):
                self.reject(cand, "AWV-001", f"within the first 12 months of Part B enrollment ({pb})")
        elif code == str(self.rs.param("AWV-002", "code", "G0439")):
            self.note("AWV-002")
            cand.add_rule("AWV-002")
            full = int(self.rs.param("AWV-002", "full_months", 11))
            prior = self.history(self.rs.codes_of(self.rs.param("AWV-002", "prior_codes")), day)
            if prior:
                last = max(prior, key=lambda c: c.date)
                if month_index(day) - month_index(last.date) <= full:
                    allowed = add_months(last.date.replace(day=1), full + 1)
                    self.reject(cand, "AWV-002", f"AWV {last.code} on {last.date}; G0439 is once every 12 months "
                                                 f"({full} full months must pass: allowed from {allowed})")
        elif self.rs.has("G0136-001") and code == str(self.rs.param("G0136-001", "code", "G0136")):
            self.note("G0136-001")
            cand.add_rule("G0136-001")
            months = int(self.rs.param("G0136-001", "min_months_between", 6))
            prior = [c for c in self.history(frozenset({code}), day) if c.date > add_months(day, -months)]
            if prior:
                self.reject(cand, "G0136-001", f"G0136 billed on {prior[0].date}; not more often than every "
                                               f"{months} months")

    # ---------- cross-code rules ----------
    def other_claim_edits(self) -> None:
        """Claims already billed in the month are checked too; a failing one is reported as denied."""
        for c in self.claims_in_month:
            probe = _Cand(c.code, c.units, c.practitioner, [], c.date, "OTHER", dated=True, source="other")
            if not self.rs.valid(c.code):
                continue
            level, _ = self.apcm_level()
            if c.code in self.codes("APCM_BASE") and c.code != level:
                self.note("APCM-005")
                self.finding("APCM-005", c.code, f"{c.code} billed on {c.date} but the patient qualifies for {level} "
                                                 f"in {self.s.month}", c.practitioner)
            self._claim_edits(probe)

    def exclusions(self) -> None:
        dup = self.rs.codes_of(self.rs.param("APCM-008", "codes", "APCM_DUPLICATIVE"))
        cand_codes = self.rs.codes_of(self.rs.param("APCM-008c", "codes", "APCM_DUPLICATIVE_CANDIDATES"))
        warn_codes = self.rs.codes_of(self.rs.param("APCM-008d", "codes", ["CCM", "PCM"]))
        base_codes = self.codes("APCM_BASE")
        apcm_pracs = [self.apcm_line.practitioner] if self.apcm_line else []
        apcm_pracs += [c.practitioner for c in self.claims_in_month if c.code in base_codes and c.practitioner]
        other = [_Cand(c.code, c.units, c.practitioner, [], c.date, "OTHER", dated=True, source="other")
                 for c in self.claims_in_month]
        if apcm_pracs or (self.institutional and self.apcm_line):
            self.note("APCM-008")
            self.note("APCM-009")
            for cand in [*self.live(), *other]:
                if cand.code in base_codes or cand.denied:
                    continue
                y = apcm_pracs[0]
                if cand.code in dup:
                    if self.institutional:
                        self.note("RHC-003")
                        self.reject(cand, "RHC-003", f"{self.s.practice.type.upper()} patient-month is billed "
                                                     f"either as APCM or as individual care-management codes; "
                                                     f"APCM is billed by {y}")
                    elif any(self.same_npi(cand.practitioner, p) for p in apcm_pracs):
                        self.reject(cand, "APCM-008", f"{cand.code} duplicates APCM billed by the same "
                                                      f"practitioner {cand.practitioner} in {self.s.month}")
                    elif self.tin(cand.practitioner) and self.tin(cand.practitioner) == self.tin(y):
                        self.note("APCM-008b")
                        self.reject(cand, "APCM-008b", f"{cand.code} by {cand.practitioner} in the same TIN as the "
                                                       f"APCM practitioner {y}: review")
                    elif cand.code in warn_codes:
                        self.note("APCM-008d")
                        self.reject(cand, "APCM-008d", f"{cand.code} by {cand.practitioner or 'another practitioner'}"
                                                       f" in the same month as APCM by {y}")
                elif cand.code in cand_codes and any(self.same_npi(cand.practitioner, p) for p in apcm_pracs):
                    self.note("APCM-008c")
                    self.reject(cand, "APCM-008c", f"{cand.code} may duplicate APCM by the same practitioner: "
                                                   "review")
                elif cand.source != "other" and not cand.denied:
                    cand.add_rule("APCM-009")  # billable alongside APCM
            if self.institutional and self.apcm_line is not None:
                self.apcm_line.add_rule("RHC-003")
        # CCM: one base code, one practitioner per month
        ccm_base = self.rs.codes_of(self.rs.param("CCM-005", "codes", "CCM_BASE"))
        self.note("CCM-005")
        ours = sorted(self.live(ccm_base), key=lambda c: (not any(self.consented(e) for e in
                                                                  self.enrollments("CCM", c.practitioner)),
                                                          -(c.facts.get("clinical_staff_minutes", 0)
                                                            + c.facts.get("practitioner_minutes", 0)),
                                                          c.practitioner))
        billed = [c for c in self.claims_in_month if c.code in ccm_base]
        keep: _Cand | None = None
        for cand in ours:
            o = next((c for c in billed if c.practitioner != cand.practitioner), None)
            same = next((c for c in billed if c.practitioner == cand.practitioner), None)
            if same is not None:
                self.note("CCM-004")
                self.reject(cand, "CCM-004", f"CCM {same.code} already billed by {cand.practitioner} on {same.date}; "
                                             "one CCM base code per patient-month")
            elif o is not None:
                who = o.practitioner or "another practitioner"
                self.reject(cand, "CCM-005", f"CCM {o.code} already billed by {who} on {o.date}; one practitioner "
                                             "may bill CCM per month")
            elif keep is not None:
                self.reject(cand, "CCM-005", f"CCM is billed by {keep.practitioner} this month; one practitioner per "
                                             "month")
            else:
                keep = cand
                cand.add_rule("CCM-005")
        # CCM and PCM by the same practitioner
        self.note("CCM-008")
        for pcm in self.live(self.codes("PCM")):
            if pcm.parent is not None:
                continue
            ccm = [c for c in self.live(self.codes("CCM")) if c.practitioner == pcm.practitioner]
            ccm_other = [c for c in self.claims_in_month if c.code in self.codes("CCM")
                         and c.practitioner == pcm.practitioner]
            if ccm or ccm_other:
                self.reject(pcm, "CCM-008", f"CCM and PCM by the same practitioner {pcm.practitioner} in "
                                            f"{self.s.month}")
        # BHI and CoCM by the same practitioner
        self.note("BHI-COCM-001")
        cocm_codes = self.codes("COCM")
        for bhi in self.live(self.codes("BHI")):
            if any(c.practitioner == bhi.practitioner for c in self.live(cocm_codes)) or any(
                    c.code in cocm_codes and c.practitioner == bhi.practitioner for c in self.claims_in_month):
                self.reject(bhi, "BHI-COCM-001", f"99484 and CoCM by the same practitioner {bhi.practitioner} in "
                                                 f"{self.s.month}")
        # G2214 with 99492/99493
        g2214 = str(self.rs.param("COCM-001", "g2214", "G2214"))
        for cand in self.live(frozenset({g2214})):
            base = {str(self.rs.param("COCM-001", "first_month_code")), str(self.rs.param("COCM-001", "later_code"))}
            if any(c.code in base for c in self.live()) or any(c.code in base for c in self.claims_in_month):
                self.reject(cand, "COCM-001", "G2214 is not billed with 99492/99493 in the same month")
        # RPM and RTM in the same period
        self.note("RPM-004")
        rpm_all, rtm_all = self.codes("RPM_ALL"), self.codes("RTM_ALL")
        rpm_live = bool(self.live(rpm_all)) or any(c.code in rpm_all for c in self.claims_in_month)
        rtm_other = [c for c in self.claims_in_month if c.code in rtm_all]
        if rpm_live:
            for cand in self.live(rtm_all):
                self.reject(cand, "RPM-004", "RPM and RTM may not both be billed for the same patient in the same "
                                             "period; RPM is billed this month", cascade=False)
        elif rtm_other:
            for cand in self.live(rpm_all):
                self.reject(cand, "RPM-004", f"RTM {rtm_other[0].code} already billed on {rtm_other[0].date}; RPM "
                                             "and RTM may not both be billed in the same period", cascade=False)
        for cand in self.live(rpm_all | rtm_all):
            cand.add_rule("RPM-004")
        # add-ons: mutual exclusions and mirrored standalone codes
        if self.rs.has("APCMBH-004"):
            cocm_addons = {str(self.rs.param("APCMBH-001", "cocm_first_month_code")),
                           str(self.rs.param("APCMBH-001", "cocm_later_code"))}
            bhi_addon = str(self.rs.param("APCMBH-001", "bhi_code"))
            addons = self.live(self.codes("APCM_BH_ADDON"))
            if any(c.code in cocm_addons for c in addons):
                for cand in [c for c in addons if c.code == bhi_addon]:
                    self.reject(cand, "APCMBH-004", "G0570 is not billed in the same month as G0568/G0569: review")
            if len({c.code for c in addons if c.code in cocm_addons}) > 1:
                for cand in [c for c in addons if c.code in cocm_addons][1:]:
                    self.reject(cand, "APCMBH-003", "G0568 and G0569 are mutually exclusive in a month: review")
        if self.rs.has("APCMBH-005"):
            mirrors: dict[str, list[str]] = self.rs.param("APCMBH-005", "mirrors", {})
            for cand in self.live(self.codes("APCM_BH_ADDON")):
                standalone = set(mirrors.get(cand.code, []))
                hit = [c.code for c in self.live() if c.code in standalone and c.practitioner == cand.practitioner]
                hit += [c.code for c in self.claims_in_month if c.code in standalone
                        and c.practitioner == cand.practitioner]
                if hit:
                    self.note("APCMBH-005")
                    self.reject(cand, "APCMBH-005", f"{cand.code} and its mirrored standalone code {hit[0]} for the "
                                                    "same patient-month and practitioner")
        if self.institutional and self.rs.has("RHC-004"):
            new_codes = self.rs.codes_of(self.rs.param("RHC-004", "codes"))
            for cand in self.live(new_codes):
                self.note("RHC-004")
                self.reject(cand, "RHC-004", f"{cand.code} (new in 2026) on the RHC/FQHC care-coordination list is "
                                             "UNCONFIRMED: review")

    # ---------- output ----------
    def finish(self) -> Decision:
        lines: list[Line] = []
        self.note("APCM-010")
        for c in self.live():
            qmb = self.qmb_in_month if not c.dated else self.qmb_on(c.dos)
            if qmb:
                c.add_rule("APCM-010")
            share = c.facts.pop("patient_share_applies", None)
            if share is None:
                share = not qmb
            facts = dict(c.facts)
            facts["qmb"] = qmb
            facts["patient_share_applies"] = bool(share and not qmb)
            facts["claim_type"] = "institutional" if self.institutional else "professional"
            if self.institutional:
                facts["bill_type"] = "71X" if self.s.practice.type == "rhc" else "77X"
                facts["revenue_code"] = "052X"
            facts["ruleset"] = self.rs.name
            lines.append(Line(
                code=c.code, units=c.units, practitioner=c.practitioner, rule_ids=tuple(c.rule_ids),
                date_of_service=c.dos, facts=tuple(Fact(k, v) for k, v in facts.items() if v is not None),
                diagnoses=c.diagnoses,
            ))
        return Decision(month=self.s.month, ruleset=self.rs.name, lines=tuple(lines), denied=tuple(self.denied),
                        flags=tuple(self.flags), warnings=tuple(self.warnings), trace=tuple(self.trace))


def _matches(value: str, allowed: set[str]) -> bool:
    """A setting matches its list exactly or by a distinctive token ("hospital_inpatient" -> inpatient)."""
    return value in allowed or any(len(a) >= 4 and a in value for a in allowed)


def evaluate(scenario: Scenario, ruleset: Ruleset) -> Decision:
    """Decide one patient-month: which codes and units to bill, which are denied and which need review."""
    ev = _Eval(scenario, ruleset)
    if month_of(ev.m_start)[:4] != str(ruleset.year):
        ev.warnings.append(Finding("", "CODE-001", f"ruleset {ruleset.name} evaluated for {scenario.month}", None))
    for msg in scenario.input_warnings:
        ev.note("INPUT-001")
        ev.warnings.append(Finding("", "INPUT-001", msg, None))
    ev.apcm()
    ev.bh_addons()
    ev.ccm()
    ev.pcm()
    ev.tcm()
    ev.remote("RPM")
    ev.remote("RTM")
    ev.bhi()
    ev.cocm()
    ev.visits()
    ev.other_claim_edits()
    ev.exclusions()
    return ev.finish()
