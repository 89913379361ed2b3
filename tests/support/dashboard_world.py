"""A small, hand-counted dataset across two terms for the dashboard and the governors' report (helpers only).

Now is Sunday 6 December 2026, 10:00 UTC. With the default terms (1 September, 1 January, 15 April, Europe/London),
this term is the autumn term 2026 (from 2026-08-31 23:00 UTC) and last term the summer term 2026 (from 2026-04-14
23:00 UTC to the autumn term's start). ``EXPECTED`` says what each figure must be, counted by hand from ``REPORTS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from store.approvals import ApprovalRequestRow
from store.consent_store import ConsentCheckLogRow, ConsentDoNotPhotographRow
from store.incidents import IncidentEventRow, IncidentRow

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
PUPIL_NAME = "Amelia Hughes"  # in every report's free text: must never reach a card or the PDF
STAFF_NAME = "Sam Teacher"


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class R:
    """One report: when, category, urgency, status, minutes to the lead, auto-escalated."""

    number: int
    received: datetime
    category: str
    urgency: str = "standard"
    status: str = "closed"
    lead_after: int | None = None
    auto_escalated: bool = False


REPORTS = (
    R(1, at(9, 3), "offensive_content", lead_after=30),
    R(2, at(9, 4), "offensive_content", lead_after=60),
    R(3, at(9, 5), "offensive_content", status="open"),
    R(4, at(9, 6), "offensive_content", "urgent", "in_progress", lead_after=10),
    R(5, at(9, 7), "offensive_content", "urgent", lead_after=20),
    R(6, at(9, 30, 23, 30), "negative_comment", status="open"),  # 00:30 on 1 October in London: October
    *(R(n, at(10, 12), "negative_comment", lead_after=lead)
      for n, lead in zip(range(7, 12), (100, 110, 120, 130, 140), strict=True)),
    R(12, at(11, 2), "pupil_safety", "urgent", lead_after=5, auto_escalated=True),
    R(13, at(11, 3), "pupil_safety", "urgent", "open", auto_escalated=True),
    R(14, at(11, 4), "about_head_teacher", status="open"),
    R(15, at(11, 5), "praise", "good_news"),
    R(16, at(5, 10), "negative_comment"),  # last term
    R(17, at(8, 31, 23, 30), "offensive_content", status="open"),  # 00:30 on 1 September in London: this term
    R(18, at(4, 1), "other"),  # the spring term: in neither period
)

# (report, agency, when): escalations and referrals to outside agencies (12's police referral recorded twice)
REFERRALS = ((12, "police", at(11, 2, 10)), (12, "police", at(11, 2, 11)), (5, "lado", at(9, 8)),
             (16, "police", at(5, 11)))

CHECKS = (  # (when, verdict, reasons)
    (at(9, 10), "yes", []), (at(10, 10), "yes", []), (at(11, 10), "yes", []),
    (at(9, 11), "no", ["no_consent"]), (at(9, 12), "no", ["no_consent", "personal_device"]),
    (at(10, 11), "no", ["do_not_photograph"]), (at(11, 11), "no", ["refused"]),
    (at(6, 1), "yes", []),  # last term
    (at(3, 1), "no", ["refused"]),  # spring term
)

REQUESTS = (  # (kind, state, created, decided)
    ("new_account", "approved", at(9, 10), at(9, 12)),
    ("new_account", "rejected", at(10, 1, 12), at(10, 2, 12)),
    ("new_account", "pending", at(11, 30, 10), None),
    ("new_account", "withdrawn", at(10, 5), at(10, 6)),
    ("personal_device_photo", "approved", at(10, 5), at(10, 5, 10)),  # not an account request
    ("new_account", "approved", at(6, 1), at(6, 3)),  # last term
)

DO_NOT_PHOTOGRAPH = (("A100", None), ("A101", None), ("A102", None), ("A103", at(10, 1)))

EXPECTED_HEAD: dict[str, Any] = {  # the Head Teacher's view, this term (never the report about the Head)
    "by_category": {"offensive_content": 6, "negative_comment": 6, "pupil_safety": 2, "praise": 1},
    "by_month": {("offensive_content", "Sep 2026"): 6, ("negative_comment", "Oct 2026"): 6,
                 ("praise", "Nov 2026"): 1},
    "open": 5, "closed": 10,
    "lead": {"urgent": (600.0, 3), "standard": (6600.0, 7)},
    "auto_escalated": 2, "referred": {"police": 1, "lado": 1}, "referred_reports": 2,
    "checks": {"yes": 3, "no": 4},
    "reasons": {"no_consent": 2, "personal_device": 1, "do_not_photograph": 1, "refused": 1},
    "requests": {"approved": 1, "rejected": 1, "pending": 1, "withdrawn": 1, "changes_requested": 0},
    "request_wait": (129600.0, 2), "waiting": (518400.0, 1), "do_not_photograph": 3,
}
EXPECTED_SLT = {  # SLT: no pupil safety (restricted to the DSL and the Head), no report about the Head
    "by_category": {"offensive_content": 6, "negative_comment": 6, "praise": 1},
    "lead": {"urgent": (900.0, 2), "standard": (6600.0, 7)},
    "auto_escalated": 0, "referred": {"lado": 1}, "referred_reports": 1, "open": 4, "closed": 9,
}


async def seed(session: AsyncSession) -> None:
    for r in REPORTS:
        lead_at = r.received + timedelta(minutes=r.lead_after) if r.lead_after is not None else None
        session.add(IncidentRow(
            id=r.number, reference=f"INC-2026-{r.number:04d}", year=2026, number=r.number,
            submission_key=f"seed-{r.number}", category=r.category, urgency=r.urgency, status=r.status,
            immediate_risk=False, dsl_told=None, reporter_aad="00000000-0000-0000-0000-000000000101",
            reporter_name=STAFF_NAME, what_happened=f"{PUPIL_NAME} was named in a post.", platform="Facebook",
            link="", when_date=None, when_detail="", involved=PUPIL_NAME, actions_taken=[], source="chat",
            source_author="", received_at=r.received, lead_aad="00000000-0000-0000-0000-000000000202" if lead_at
            else None, lead_name="Priya Shah" if lead_at else None, lead_at=lead_at,
            closed_at=r.received + timedelta(days=1) if r.status == "closed" else None,
            closed_by_name="Priya Shah" if r.status == "closed" else None,
            outcome_kind="resolved" if r.status == "closed" else None, outcome="Dealt with." if r.status == "closed"
            else None, escalate_due_at=None, auto_escalated_at=r.received + timedelta(minutes=30)
            if r.auto_escalated else None, routed_at=r.received, screenshots_until=None, version=1))
    await session.flush()
    for number, agency, when in REFERRALS:
        session.add(IncidentEventRow(incident_id=number, at=when, kind="escalated", actor_aad=None,
                                     actor_name="Tom Reed", what="Escalated", why="Threats made.",
                                     data={"agency": agency, "external_reference": "CAD 1"}))
    for when, verdict, reasons in CHECKS:
        session.add(ConsentCheckLogRow(checked_at=when, checked_by="00000000-0000-0000-0000-000000000101",
                                       destination="school_website", account_name=None, purposes=["website"],
                                       device="school", media="photo", pupil_ids=["A100"], unresolved_count=0,
                                       verdict=verdict, reason_codes=reasons, register_version_id=None))
    for kind, state, created, decided in REQUESTS:
        session.add(ApprovalRequestRow(
            reference=None, client_key=None, kind=kind, state=state, round=1,
            requester_aad="00000000-0000-0000-0000-000000000101", requester_name=STAFF_NAME, payload={},
            created_at=created, updated_at=decided or created, pending_since=created if state == "pending" else None,
            decided_at=decided, decided_by_aad=None, decided_by_name=None, decision_comment=None, decided_as=None,
            last_reminded_on=None))
    for pupil, cleared in DO_NOT_PHOTOGRAPH:
        session.add(ConsentDoNotPhotographRow(pupil_id=pupil, requested_by="Sam Teacher", note="",
                                              recorded_at=at(9, 2), cleared_at=cleared,
                                              cleared_by="Ada" if cleared else None))
    await session.flush()
