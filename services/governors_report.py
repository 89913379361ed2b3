"""``governors report`` (the Head Teacher and the Chair of Governors; personal chat): the termly report as a PDF,
sent as a file in the personal chat through Teams' file consent card, and kept for the governing body's records.

Who may use each way in is declared here once (``ACCESS``, by the route name the router uses): the router checks it
before the service runs, and each use case checks the same declaration again (``services/audit.py`` ``Gate``: it is
the authority wherever it is called from), each refusal in the audit trail.

- ``request``: the sender checked again; ONE unit of work reads this term's figures and the previous term's
  (``store/dashboard.py``: the Head Teacher's view of categories, restricted ones folded into one count), builds the
  PDF (``domain/governors_report.py``), keeps it with its figures in ``governors_reports`` (retention kind
  ``governors_reports``: kept, no personal data) and audits it (``exported``, reason ``prepared``). The answer is
  the file consent card; its context names the report.
- ``consent`` (``fileConsent/invoke#governors_report``): the sender checked again, then the record: only the person
  who asked may accept it (anyone else is refused and audited, reason ``not_requester``); on accept the bytes are PUT
  to the upload URL Teams gives and the delivery is audited. The report stays kept either way: declining only means
  no copy went to OneDrive.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cards.dashboard import governors_consent_card
from cards.replies import CommandReply
from cards.subject_access import file_info_card
from domain.access import Access, only
from domain.actors import Actor
from domain.audit import AuditOutcome, RecordType
from domain.calendar import SchoolCalendar
from domain.dashboard import (
    RESTRICTED_KEY,
    PeriodChoice,
    SchoolTerms,
    Visible,
    apply_suppression,
    change_line,
    governors_categories,
    sections,
)
from domain.governors_report import ReportMeta, governors_pdf
from domain.roles import ROLE_TITLES, Role, RoleDirectory
from services.audit import AuditTrail, Gate, refusal, view
from services.dashboard import read_figures
from store import dashboard as store
from store.base import utcnow
from store.db import Database

log = logging.getLogger(__name__)

COMMAND = "governors_report"
CONSENT = "fileConsent/invoke#governors_report"
CONTEXT_KEY = "governors_report"
# The Head Teacher and the Chair of Governors, in the personal chat (the file is sent there); the consent's click is
# theirs too, and the record says which of them may accept this file.
_GOVERNORS = (Role.HEAD_TEACHER, Role.CHAIR_OF_GOVERNORS)
ACCESS: dict[str, Access] = {
    COMMAND: only(*_GOVERNORS, personal_only=True, refusal=(
        "Only the Head Teacher and the Chair of Governors can make the governors' report. Nothing was made.")),
    CONSENT: only(*_GOVERNORS, personal_only=True, refusal=(
        "Only the Head Teacher and the Chair of Governors can receive the governors' report. Nothing was sent.")),
}
Uploader = Callable[[str, bytes], Awaitable[None]]


@dataclass
class ConsentOutcome:
    texts: list[str] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)


def summary_lines(now: Visible, before: Visible) -> list[str]:
    """The change against the previous term, from the figures alone (a hidden count stays hidden)."""
    f, g = now.figures, before.figures
    this, last = "this term", "last term"
    lines = [
        change_line("Reports", f.total_reports, g.total_reports, "total" in now.hidden, "total" in before.hidden,
                    this, last),
        change_line("Reports still open", f.open_count, g.open_count, "open" in now.hidden, "open" in before.hidden,
                    this, last),
        change_line("Reports referred outside school", f.referred_reports, g.referred_reports,
                    "referred_reports" in now.hidden, "referred_reports" in before.hidden, this, last),
        change_line("Photo checks", sum(f.checks_by_verdict.values()), sum(g.checks_by_verdict.values()),
                    "checks" in now.hidden, "checks" in before.hidden, this, last),
        change_line("Photo checks that said no", f.checks_by_verdict.get("no", 0), g.checks_by_verdict.get("no", 0),
                    ("verdict", "no") in now.hidden, ("verdict", "no") in before.hidden, this, last),
        change_line("New account requests", sum(f.requests_by_state.values()), sum(g.requests_by_state.values()),
                    "requests" in now.hidden, "requests" in before.hidden, this, last),
    ]
    restricted_now = now.figures.total_reports and RESTRICTED_KEY in now.hidden
    if restricted_now:
        lines.append("Restricted categories: fewer than 5 this term (shown combined, never by month).")
    return lines


class GovernorsReports:
    def __init__(self, database: Database, directory: RoleDirectory, *, audit: AuditTrail, uploader: Uploader,
                 school_name: str, calendar: SchoolCalendar | None = None, terms: SchoolTerms | None = None,
                 policy_approved_on: date | None = None, policy_review_due: date | None = None,
                 clock: Callable[[], datetime] = utcnow, loopback_uploads: bool = False) -> None:
        self._db = database
        self._directory = directory
        self._audit = audit
        self._gate = Gate(directory, audit)
        self._upload = uploader
        self._school = school_name
        self._calendar = calendar or SchoolCalendar()
        self._terms = terms or SchoolTerms(self._calendar)
        self._approved = policy_approved_on
        self._review = policy_review_due
        self._clock = clock
        self._loopback_uploads = loopback_uploads

    async def request(self, actor: Actor, argument: str = "") -> CommandReply:
        # One lookup: the check, and whether the report is made by the Head Teacher or the Chair (outside the
        # personal chat the check refuses without asking the directory).
        lookup = await self._directory.roles_of(actor.aad_object_id) if actor.in_personal_chat else None
        if (refused := await self._gate.refused(COMMAND, ACCESS[COMMAND], actor, lookup=lookup)) is not None:
            return CommandReply(texts=[refused])
        roles = (lookup or await self._directory.roles_of(actor.aad_object_id)).roles
        choice = PeriodChoice.LAST_TERM if "last" in argument.lower() else PeriodChoice.THIS_TERM
        now = self._clock()
        period = self._terms.period(choice, now)
        previous = self._terms.term_before(period)
        categories = governors_categories()
        role = Role.HEAD_TEACHER if Role.HEAD_TEACHER in roles else Role.CHAIR_OF_GOVERNORS
        async with self._db.transaction() as session:
            await store.roll_up_check_days(session, now)
            this_term = apply_suppression(await read_figures(session, period, categories, now), fold_restricted=True)
            last_term = apply_suppression(await read_figures(session, previous, categories, now),
                                          fold_restricted=True)
            # The row first, so the reference carries its id: two reports made at the same moment never share one.
            row = store.GovernorsReportRow(
                reference="", period_title=period.title, period_start=period.start, period_end=period.end,
                generated_at=now, generated_by_aad=actor.aad_object_id.lower(), generated_by_role=role.value,
                figures={}, summary="", file_name="", content=b"", size=0)
            report_id = await store.save_report(session, row)
            reference = f"GOV-{self._calendar.school_date(now):%Y%m%d}-{report_id:03d}"
            summary = summary_lines(this_term, last_term)
            shown = sections(this_term, fold_restricted=True)
            meta = ReportMeta(self._school, period.title, previous.title, self._calendar.card_time(now), reference,
                              self._approved, self._review)
            content = governors_pdf(meta, shown, summary)
            file_name = f"{reference}.pdf"
            row.reference, row.file_name, row.content, row.size = reference, file_name, content, len(content)
            row.figures = {"sections": [{"title": s.title, "rows": [list(r) for r in s.rows]} for s in shown],
                           "previous": previous.title}
            row.summary = "\n".join(summary)
            await session.flush()
            await self._audit.record_in(session, view(
                actor, COMMAND, RecordType.NONE, reference, "prepared", {"bytes": len(content), "period": period.key},
                outcome=AuditOutcome.EXPORTED))
        return CommandReply(
            texts=[f"The governors' report for {period.title} ({reference}) is ready and kept for the governing "
                   f"body's records. Accept the file below to receive {file_name} in your OneDrive.",
                   *summary[:1]],
            attachments=[governors_consent_card(file_name, len(content), report_id)],
        )

    async def consent(self, actor: Actor, value: Mapping[str, Any]) -> ConsentOutcome:
        """The file consent card answered: the sender checked (``ACCESS[CONSENT]``), then the report (its
        requester only); on accept the file is uploaded where Teams says."""
        if (refused := await self._gate.refused(CONSENT, ACCESS[CONSENT], actor)) is not None:
            return ConsentOutcome(texts=[refused])
        context = value.get("context")
        report_id = context.get(CONTEXT_KEY) if isinstance(context, Mapping) else None
        action = value.get("action")
        if isinstance(report_id, bool) or not isinstance(report_id, int) or action not in ("accept", "decline"):
            return ConsentOutcome(texts=["That file is no longer available. Type governors report again."])
        async with self._db.transaction() as session:
            row = await store.get_report(session, report_id)
            if row is None:
                await self._audit.record_in(session, refusal(actor, CONSENT, RecordType.NONE, None, "not_found"))
                return ConsentOutcome(texts=["That file is no longer available. Type governors report again."])
            reference = row.reference
            if row.generated_by_aad != actor.aad_object_id.lower():  # the record: only its requester
                await self._audit.record_in(session, refusal(actor, CONSENT, RecordType.NONE, reference,
                                                             "not_requester"))
                return ConsentOutcome(texts=["Only the person who asked for this report can receive it. Nothing was "
                                             "sent."])
            if action == "decline":
                return ConsentOutcome(texts=[f"{row.file_name} was not sent. It is still kept for the governing "
                                             "body's records."])
            upload = value.get("uploadInfo")
            url = upload.get("uploadUrl") if isinstance(upload, Mapping) else None
            if not isinstance(upload, Mapping) or not isinstance(url, str) or not (
                    url.startswith("https://") or (self._loopback_uploads and _loopback(url))):
                return ConsentOutcome(texts=["Teams did not give me a place to upload the file. Please try again."])
            content, name = bytes(row.content), row.file_name
        try:
            await self._upload(url, content)
        except Exception:  # noqa: BLE001 - any failure of the upload: the report stays kept
            log.warning("governors report upload failed", extra={"report": reference})
            return ConsentOutcome(texts=["I could not upload the file to your OneDrive. The report is kept: type "
                                         "governors report to make it again."])
        await self._audit.record(view(actor, CONSENT, RecordType.NONE, reference, "delivered",
                                      {"bytes": len(content)}, outcome=AuditOutcome.EXPORTED))
        return ConsentOutcome(attachments=[file_info_card(
            str(upload.get("name") or name), str(upload.get("contentUrl") or ""),
            str(upload.get("uniqueId") or ""), str(upload.get("fileType") or "pdf"))])


def role_title(role: str) -> str:
    return ROLE_TITLES[Role(role)]


def _loopback(url: str) -> bool:
    return url.startswith(("http://127.0.0.1:", "http://localhost:"))
