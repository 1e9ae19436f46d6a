"""Outreach scripts per task type: a small data table shown beside the "log a call" form.

``{patient}`` and ``{clinic}`` are filled in when shown. Keep them short; clinics will edit these.
"""

from __future__ import annotations

SCRIPTS: dict[str, tuple[str, str]] = {
    "enrollment_call": (
        "Invite to care management",
        "Hello {patient}, this is {clinic}. Your doctor would like to offer you a care-management program: a care "
        "team member who checks in every month, helps with medicines and appointments, and can be reached any "
        "time. There may be a monthly cost share. You can stop at any time. May I tell you more?",
    ),
    "monthly_checkin": (
        "Monthly check-in",
        "Hello {patient}, this is your care team at {clinic} with your monthly check-in. How have you been "
        "feeling? Any new symptoms, hospital or ER visits, or trouble with your medicines since we last spoke?",
    ),
    "post_discharge_contact": (
        "After a hospital stay",
        "Hello {patient}, this is {clinic}. We heard you were discharged recently and want to make sure you are "
        "doing well. How are you feeling? Do you have your discharge papers and all your medicines? Let's book "
        "your follow-up visit with your doctor.",
    ),
    "followup_visit_scheduling": (
        "Book a follow-up visit",
        "Hello {patient}, this is {clinic}. Your doctor would like to see you soon. What day works for you?",
    ),
    "medication_reconciliation": (
        "Medicine review",
        "Hello {patient}, this is {clinic}. Could you read me the names and doses on each of your medicine "
        "bottles, including anything new from the hospital and anything you have stopped?",
    ),
    "care_plan_review": (
        "Care plan review",
        "Hello {patient}, this is {clinic}. It's time to review your care plan and goals together.",
    ),
    "referral_followup": (
        "Referral follow-up",
        "Hello {patient}, this is {clinic}. Were you able to get the appointment with the specialist we referred "
        "you to? Can we help with scheduling or transport?",
    ),
    "care_gap_closure": (
        "Preventive care due",
        "Hello {patient}, this is {clinic}. Our records show you are due for a screening or test. May we book it?",
    ),
    "screening_followup": (
        "Screening follow-up",
        "Hello {patient}, this is {clinic}, following up on the questionnaire you completed at your last visit. "
        "Do you have a few minutes to talk about how you have been feeling?",
    ),
    "prior_authorization": (
        "Prior authorization",
        "Hello {patient}, this is {clinic}, with an update on the authorization your insurer needs.",
    ),
    "message_response": (
        "Reply to a message",
        "Hello {patient}, this is {clinic}, calling about the message you sent us.",
    ),
    "other": ("General", "Hello {patient}, this is {clinic}."),
}


def script_for(task_type: str, *, patient: str, clinic: str) -> tuple[str, str, str]:
    """(key, title, text) for a task type, filled in."""
    key = task_type if task_type in SCRIPTS else "other"
    title, text = SCRIPTS[key]
    return key, title, text.format(patient=patient, clinic=clinic)
