"""Pure worklist rules as tables: transitions, priority, business hours, assignment, timeline, TCM evidence."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from careloop.worklist.choices import TRANSITIONS, TaskStatus
from careloop.worklist.rules import assignment as A
from careloop.worklist.rules import priority as P
from careloop.worklist.rules import timeline as T
from careloop.worklist.rules.status import can_transition, in_queue, transition_problem

NY = ZoneInfo("America/New_York")
UTC = dt.UTC
NOW = dt.datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # Mon 10:00 New York
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
S = TaskStatus


# ---- status transitions -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("current", "new", "ok"), [
    (S.REQUESTED, S.READY, True), (S.REQUESTED, S.IN_PROGRESS, True), (S.REQUESTED, S.COMPLETED, True),
    (S.READY, S.IN_PROGRESS, True), (S.IN_PROGRESS, S.ON_HOLD, True), (S.ON_HOLD, S.IN_PROGRESS, True),
    (S.IN_PROGRESS, S.COMPLETED, True), (S.IN_PROGRESS, S.FAILED, True), (S.ON_HOLD, S.CANCELLED, True),
    (S.IN_PROGRESS, S.READY, True),
    (S.READY, S.REQUESTED, False), (S.IN_PROGRESS, S.REQUESTED, False), (S.REQUESTED, S.REQUESTED, False),
    (S.COMPLETED, S.IN_PROGRESS, False), (S.CANCELLED, S.READY, False), (S.FAILED, S.COMPLETED, False),
])
def test_transition_table(current: str, new: str, ok: bool) -> None:
    assert can_transition(current, new) is ok


def test_terminal_statuses_have_no_way_out_and_nothing_returns_to_requested() -> None:
    assert [s for s, nxt in TRANSITIONS.items() if not nxt] == [S.COMPLETED, S.CANCELLED, S.FAILED]
    assert all(S.REQUESTED not in nxt for nxt in TRANSITIONS.values())
    assert set(TRANSITIONS) == set(S.values)


@pytest.mark.parametrize(("current", "new", "reason", "problem"), [
    (S.READY, S.ON_HOLD, "", "a reason is required to make a task on-hold"),
    (S.READY, S.CANCELLED, "  ", "a reason is required to make a task cancelled"),
    (S.READY, S.FAILED, "no answer x3", None),
    (S.READY, S.COMPLETED, "", None),
    (S.COMPLETED, S.READY, "oops", "a completed task cannot become ready"),
    (S.READY, "done", "", "unknown status 'done'"),
])
def test_transition_problems(current: str, new: str, reason: str, problem: str | None) -> None:
    assert transition_problem(current, new, reason) == problem


def test_queue_statuses() -> None:
    assert [s for s in S.values if in_queue(s)] == ["requested", "ready", "in-progress"]


# ---- priority ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("left", "points", "band_change"), [
    (-2 * D, 100, NOW + D),  # overdue: re-explained daily
    (5 * H, 85, NOW + 5 * H),  # <24 h: changes when it becomes overdue
    (2 * D, 65, NOW + D),  # <3 days: changes when 24 h are left
    (5 * D, 40, NOW + 2 * D),
    (10 * D, 15, NOW + 3 * D),
])
def test_urgency_bands(left: dt.timedelta, points: int, band_change: dt.datetime) -> None:
    got, _, until = P.urgency(NOW + left, NOW, NY, "due")
    assert (got, until) == (points, band_change)


@pytest.mark.parametrize(("task_type", "left", "tier", "level", "score"), [
    # 0.5*urgency + 0.3*risk + 0.2*value + 5*escalation
    ("post_discharge_contact", 5 * H, "high", 0, 43 + 30 + 20),  # 42.5 rounds to even: 92
    ("monthly_checkin", 10 * D, "low", 0, round(7.5 + 4.5 + 12)),
    ("monthly_checkin", 10 * D, "moderate", 0, round(7.5 + 12 + 12)),
    ("other", -D, "rising", 0, round(50 + 21 + 2)),
    ("other", -D, "rising", 2, round(50 + 21 + 2) + 10),
    ("post_discharge_contact", -D, "high", 3, 100),  # capped
])
def test_priority_scores(task_type: str, left: dt.timedelta, tier: str, level: int, score: int) -> None:
    p = P.compute_priority(P.PriorityInput(task_type, NOW + left, None, tier, "", level), now=NOW, zone=NY)
    assert p.score == min(100, round(P.WEIGHTS["urgency"] * P.urgency(NOW + left, NOW, NY, "due")[0]
                                     + P.WEIGHTS["risk"] * P.RISK_POINTS[tier]
                                     + P.WEIGHTS["value"] * P.VALUE_POINTS[task_type][0]) + 5 * level)
    assert abs(p.score - score) <= 1


def test_priority_explains_each_component_in_clinic_time() -> None:
    p = P.compute_priority(
        P.PriorityInput("post_discharge_contact", NOW + 30 * H, NOW + 6 * H, "high"), now=NOW, zone=NY)
    assert p.explanation == [
        "Urgency +42.5: due within 24 hours: regulatory deadline Mon 09 Mar 16:00",
        "Risk +30: high risk tier",
        "Value +20: TCM needs an interactive contact within 2 business days of discharge (deadline Mon 09 Mar 16:00)",
    ]
    assert p.score == 92
    assert p.valid_until == NOW + 6 * H


def test_a_missed_deadline_keeps_only_part_of_the_value() -> None:
    p = P.compute_priority(
        P.PriorityInput("post_discharge_contact", NOW + 2 * D, NOW - H, "moderate"), now=NOW, zone=NY)
    assert p.explanation[2] == ("Value +6: deadline missed Mon 09 Mar 09:00: TCM needs an interactive contact within "
                                "2 business days of discharge; the care is still due")
    assert p.explanation[0].startswith("Urgency +50: overdue by 1 h")


def test_unknown_risk_tier_counts_as_moderate_and_value_note_overrides() -> None:
    p = P.compute_priority(P.PriorityInput("other", NOW + 10 * D, None, "???", "closes a HEDIS gap"), now=NOW, zone=NY)
    assert p.explanation[1:] == ["Risk +12: moderate risk tier", "Value +2: closes a HEDIS gap"]


@pytest.mark.parametrize(("start", "end", "hours"), [
    (dt.datetime(2026, 3, 9, 10, 0, tzinfo=NY), dt.datetime(2026, 3, 9, 12, 30, tzinfo=NY), 2.5),
    (dt.datetime(2026, 3, 9, 6, 0, tzinfo=NY), dt.datetime(2026, 3, 9, 20, 0, tzinfo=NY), 9.0),
    (dt.datetime(2026, 3, 6, 16, 0, tzinfo=NY), dt.datetime(2026, 3, 9, 9, 0, tzinfo=NY), 2.0),  # Fri -> Mon
    (dt.datetime(2026, 5, 22, 16, 0, tzinfo=NY), dt.datetime(2026, 5, 26, 9, 0, tzinfo=NY), 2.0),  # Memorial Day
    (dt.datetime(2026, 3, 9, 12, 0, tzinfo=NY), dt.datetime(2026, 3, 9, 11, 0, tzinfo=NY), 0.0),
])
def test_business_hours(start: dt.datetime, end: dt.datetime, hours: float) -> None:
    assert P.business_hours_between(start, end, NY) == hours


@pytest.mark.parametrize(("deadline", "at_risk"), [
    (None, False),
    (NOW - H, False),  # already missed: escalation, not a warning
    (dt.datetime(2026, 3, 10, 9, 0, tzinfo=NY), True),  # 8 business hours left
    (dt.datetime(2026, 3, 10, 11, 0, tzinfo=NY), False),  # 10 left
    (dt.datetime(2026, 3, 13, 23, 59, tzinfo=NY), False),
])
def test_deadline_at_risk(deadline: dt.datetime | None, at_risk: bool) -> None:
    assert P.deadline_at_risk(deadline, now=NOW, zone=NY) is at_risk


def test_at_risk_threshold_is_configurable() -> None:
    friday_5pm = dt.datetime(2026, 3, 13, 17, 0, tzinfo=NY)
    assert P.deadline_at_risk(friday_5pm, now=NOW, zone=NY, threshold_hours=9) is False
    assert P.deadline_at_risk(friday_5pm, now=NOW, zone=NY, threshold_hours=45) is True


# ---- assignment ------------------------------------------------------------------------------------------

def _c(uid: int, role: str = "coordinator", load: int = 0, cap: int = 60, away: bool = False,
       teams: frozenset[int] = frozenset()) -> A.Candidate:
    return A.Candidate(uid, role, cap, load, away, teams, name=f"u{uid}")


POOL = [_c(1, load=50), _c(2, load=30), _c(3, load=12, cap=20), _c(4, "nurse", load=5), _c(5, load=0, away=True)]


@pytest.mark.parametrize(("task_type", "role", "designated", "exclude", "team", "expected", "reason"), [
    ("monthly_checkin", "", _c(1, load=500), (), None, 1, "designated care-team member (continuity)"),
    ("monthly_checkin", "", _c(5, away=True), (), None, 2,
     "coordinator with the most spare capacity (30/60 patients); designated member u5 is away"),
    ("medication_reconciliation", "", _c(1), (), None, 4,
     "nurse with the most spare capacity (5/60 patients); designated member u1 (coordinator) does not do "
     "medication_reconciliation"),
    ("monthly_checkin", "", None, (), None, 2, "coordinator with the most spare capacity (30/60 patients)"),
    ("monthly_checkin", "", None, (2,), None, 3, "coordinator with the most spare capacity (12/20 patients)"),
    ("monthly_checkin", "", None, (2, 3), None, 1, "coordinator with the most spare capacity (50/60 patients)"),
    ("monthly_checkin", "", None, (1, 2, 3), None, None, "no coordinator available within capacity: for the team "
                                                         "lead to assign"),
    ("care_plan_review", "", None, (), None, None, "no provider available within capacity: for the team lead to "
                                                    "assign"),
    ("other", "nurse", None, (), None, 4, "nurse with the most spare capacity (5/60 patients)"),
])
def test_choose_assignee(task_type: str, role: str, designated: A.Candidate | None, exclude: tuple[int, ...],
                         team: int | None, expected: int | None, reason: str) -> None:
    d = A.choose_assignee(task_type=task_type, role=role, designated=designated, candidates=POOL,
                          care_team_id=team, exclude=exclude)
    assert (d.user_id, d.reason) == (expected, reason)


def test_full_caseload_is_skipped_and_the_care_team_is_preferred() -> None:
    pool = [_c(1, load=60), _c(2, load=59, teams=frozenset({7})), _c(3, load=1)]
    assert A.choose_assignee(task_type="other", designated=None, candidates=pool).user_id == 3
    assert A.choose_assignee(task_type="other", designated=None, candidates=pool, care_team_id=7).user_id == 2
    assert A.choose_assignee(task_type="other", designated=None, candidates=pool, care_team_id=8).user_id == 3


def test_every_task_type_has_a_default_role_that_may_do_it() -> None:
    from careloop.worklist.choices import TaskType

    assert set(A.TASK_ROLES) == set(TaskType.values)
    assert all(role in roles for role, roles in A.TASK_ROLES.values())


# ---- timeline -------------------------------------------------------------------------------------------------

def test_month_bounds_are_clinic_local() -> None:
    start, end = T.month_utc_bounds("2026-01", NY)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (dt.datetime(2026, 1, 1, 5, tzinfo=UTC),
                                                           dt.datetime(2026, 2, 1, 5, tzinfo=UTC))
    assert T.local_date(dt.datetime(2026, 2, 1, 4, 30, tzinfo=UTC), NY) == dt.date(2026, 1, 31)


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-01", "", "2026-00"])
def test_parse_month_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        T.parse_month(bad)


def test_monthly_checkin_times() -> None:
    due, deadline = T.monthly_checkin_times("2026-03", now=NOW, zone=NY)
    assert (due, deadline) == (dt.datetime(2026, 3, 20, 17, tzinfo=NY), dt.datetime(2026, 3, 31, 23, 59, 59,
                                                                                       tzinfo=NY))
    late = dt.datetime(2026, 3, 26, 15, tzinfo=UTC)  # Thu: 2 business days later is Mon 30th
    assert T.monthly_checkin_times("2026-03", now=late, zone=NY)[0] == dt.datetime(2026, 3, 30, 17, tzinfo=NY)
    very_late = dt.datetime(2026, 3, 31, 15, tzinfo=UTC)
    assert T.monthly_checkin_times("2026-03", now=very_late, zone=NY)[0] == deadline


def test_tcm_contact_deadline_is_the_second_business_day() -> None:
    # Discharged Friday 22 May 2026; Memorial Day Monday: business days Tue 26, Wed 27.
    assert T.tcm_contact_deadline(dt.date(2026, 5, 22), NY) == dt.datetime(2026, 5, 27, 23, 59, 59, tzinfo=NY)


@pytest.mark.parametrize(("seconds", "minutes"), [(0, 0), (59, 0), (60, 1), (61 * 60 - 1, 60), (3600, 60)])
def test_timer_minutes_round_down(seconds: int, minutes: int) -> None:
    assert T.timer_minutes(NOW, NOW + dt.timedelta(seconds=seconds)) == minutes


def test_entry_problems_and_staff_types() -> None:
    today = dt.date(2026, 3, 9)
    assert T.entry_problems(minutes=0, service_date=today + D, today=today) == {
        "minutes": "between 1 and 600", "service_date": "cannot be in the future"}
    assert T.entry_problems(minutes=600, service_date=today, today=today) == {}
    assert (T.staff_type_for_role("provider"), T.staff_type_for_role("nurse")) == ("billing_practitioner",
                                                                                   "clinical_staff")


def _a(i: int, hours: float, channel: str = "phone", outcome: str = "no_answer") -> T.Attempt:
    return T.Attempt(i, NOW + dt.timedelta(hours=hours), channel, outcome)


@pytest.mark.parametrize(("attempts", "contacted", "ids", "satisfied"), [
    ([_a(1, 1, outcome="reached")], True, [1], True),
    ([_a(1, 1), _a(2, 5, "portal_message", "left_message")], False, [1, 2], True),
    ([_a(1, 1), _a(2, 5, "letter")], False, [1], False),  # a letter is not interactive
    ([_a(1, 1), _a(2, 5, outcome="wrong_number")], False, [1], False),
    ([_a(1, 1), _a(2, 80)], False, [1], False),  # after the window
    ([_a(2, 3, "video", "reached"), _a(1, 1)], True, [1, 2], True),
    ([_a(1, 1, "sms"), _a(2, 2, "in_person", "declined")], False, [1, 2], True),
])
def test_tcm_contact_evidence(attempts: list[T.Attempt], contacted: bool, ids: list[int], satisfied: bool) -> None:
    e = T.tcm_contact_evidence(attempts, NOW, NOW + 48 * H)
    assert (e.contacted, e.attempt_ids, e.satisfied) == (contacted, ids, satisfied)
