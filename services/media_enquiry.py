"""Sending a media enquiry (issue 15, gap 7): its own short form, checked, kept with the report, routed like every
report (SLT's channel: "media enquiry, deadline X"; the Head Teacher personally), and a receipt that repeats the
policy's instruction: do not respond, SLT will.

The report itself is made by ``services.incidents.Incidents.report`` (one unit of work: the report, the enquiry's own
fields, the notifications); this module reads the form and answers the reporter.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from cards.incidents import cancelled_form_card
from cards.media_enquiry import MediaEnquiryPayload, media_enquiry_form_card, with_instruction
from cards.replies import ActionResult
from domain.incidents import Category, ReportDetails, Source, rule_for
from domain.media_enquiry import MediaEnquiryProblem, read_media_enquiry
from services.incidents import Incidents, ReportCancelled, payload_of
from services.requests import CardAction

log = logging.getLogger(__name__)


class MediaEnquiries:
    """``incident_media_enquiry``: "Send to SLT" on the media enquiry form."""

    def __init__(self, incidents: Incidents) -> None:
        self._incidents = incidents

    def _form(self, form: MediaEnquiryPayload, problem: str) -> ActionResult:
        """The form again, with what was typed and what to change."""
        return ActionResult(card=media_enquiry_form_card(
            form.draft, rule_for(Category.MEDIA_ENQUIRY), form.at_risk, form.dsl_told,
            today_text=self._incidents.today().strftime("%a %d %b"), values=form.inputs(), problem=problem,
        ))

    async def on_submit(self, action: CardAction) -> ActionResult:
        form = payload_of(action, MediaEnquiryPayload)
        try:
            enquiry = read_media_enquiry(form.inputs(), self._incidents.today())
        except MediaEnquiryProblem as problem:
            log.info("media enquiry form refused", extra={"field": problem.field})
            return self._form(form, str(problem))
        try:
            details = ReportDetails(
                category=Category.MEDIA_ENQUIRY, immediate_risk=form.at_risk,
                dsl_told=form.dsl_told if form.at_risk else None, what_happened=enquiry.about, source=Source.CHAT,
            )
        except ValidationError:  # the limits are the same as read_media_enquiry's: kept as a safety net
            return self._form(form, "Something in the form could not be read: check it and send it again.")
        try:
            receipt = await self._incidents.report(action.actor, details, form.draft, media_enquiry=enquiry)
        except ReportCancelled:
            return ActionResult(card=cancelled_form_card())
        return ActionResult(card=with_instruction(receipt))


__all__ = ["MediaEnquiries"]
