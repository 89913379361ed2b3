"""Cards for the safeguarding record KCSIE asks for (``domain/safeguarding_record.py``): the report form's own block
(the child's words, the reporter's view, the pupils), the record's section of the details card with its actions
(a decision and its reason, a referral's outcome, the PDF export, "mark transferred"), and the file card that
delivers the PDF.

Every piece of text a person typed goes through ``escape_markdown``. Nothing here is ever shown in a channel: the
details card is sent only to people the report's rule permits, in their personal chat, and each verb is declared
personal-chat-only on the router.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from cards.base import (
    ActionExecute,
    ActionSet,
    ActionShowCard,
    AdaptiveCard,
    Choice,
    Container,
    Element,
    Fact,
    FactSet,
    InputChoiceSet,
    InputText,
    TextBlock,
    escape_markdown,
)
from domain.calendar import SchoolCalendar
from domain.incidents import MAX_CHILD_WORDS, MAX_OPINION, MAX_PUPIL_NAME, MAX_PUPILS_TEXT, Status
from domain.safeguarding_record import (
    MAX_DECISION,
    MAX_REASON,
    MAX_REFERRAL_OUTCOME,
    MAX_SYSTEM,
    MAX_SYSTEM_REFERENCE,
    SAFEGUARDING_SYSTEMS,
    RecordExtras,
)

FILE_CONSENT_CONTENT_TYPE = "application/vnd.microsoft.teams.card.file.consent"
RECORD_EXPORT_CONTEXT = "record_export"  # the file consent card's context key: this module's exports


class Verb(StrEnum):
    """The safeguarding record's verbs (registered by ``dialogs/safeguarding_record.py``)."""

    DECISION = "incident_decision"
    REFERRAL_OUTCOME = "incident_referral_outcome"
    EXPORT = "incident_export_record"
    TRANSFERRED = "incident_mark_transferred"
    ADD_PUPIL = "incident_add_pupil"


_MAX_RECORD_ID = 2**31 - 1


def _not_a_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("an id is a number")
    return value


def _none_is_blank(value: object) -> object:
    return "" if value is None else value


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


_RecordId = Annotated[int, BeforeValidator(_not_a_bool), Field(ge=1, le=_MAX_RECORD_ID)]
_Text = Annotated[str, BeforeValidator(_none_is_blank)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- the report form's block ------------------------------------------------------------------------------------


class RecordInputs(_Payload):
    """The form's record inputs, typed and no longer than the inputs allow (``ReportDetails`` checks the rest)."""

    child_words: _Text = Field(default="", max_length=MAX_CHILD_WORDS)
    opinion: _Text = Field(default="", max_length=MAX_OPINION)
    pupils: _Text = Field(default="", max_length=MAX_PUPILS_TEXT)

    def record_inputs(self) -> dict[str, str]:
        return self.model_dump(include=set(RecordInputs.model_fields))


RECORD_FORM_PROBLEMS = {
    "child_words": "The child's words are too long.", "opinion": "Your view is too long.",
    "pupils": "Give at most 30 pupils, one per line, each name at most 100 characters.",
}


def record_inputs(*, child_words: str = "", opinion: str = "", pupils: str = "") -> list[Element]:
    """The report form's block for the safeguarding record: facts are ``what_happened`` above; these keep the
    child's words and the reporter's view apart, and name the pupils."""
    return [
        InputText(id="child_words", label="The child's own words, if a child told you (optional)",
                  placeholder="Write exactly what the child said, word for word, even if it is rude or unclear",
                  is_multiline=True, max_length=MAX_CHILD_WORDS, value=child_words or None),
        InputText(id="opinion", label="Your view or concerns (kept apart from the facts above)",
                  placeholder="What you think or worry about, and why", is_multiline=True, max_length=MAX_OPINION,
                  value=opinion or None),
        InputText(id="pupils", label="Pupils this is about (one per line, several allowed)",
                  placeholder="First name and surname, one pupil per line", is_multiline=True,
                  max_length=MAX_PUPILS_TEXT, value=pupils or None),
    ]


# --- payloads of the record's verbs --------------------------------------------------------------------------


class RecordPayload(_Payload):
    """``incident_export_record``: "Export the record (PDF)"."""

    incident: _RecordId


class DecisionPayload(RecordPayload):
    """``incident_decision``: "Record decision"."""

    decision: _Text = Field(default="", max_length=MAX_DECISION)
    decision_reason: _Text = Field(default="", max_length=MAX_REASON)


class ReferralOutcomePayload(RecordPayload):
    """``incident_referral_outcome``: "Record outcome" (appended to the referral chosen)."""

    referral: Annotated[_RecordId | None, BeforeValidator(_blank_is_none)] = None
    referral_outcome: _Text = Field(default="", max_length=MAX_REFERRAL_OUTCOME)


class TransferPayload(RecordPayload):
    """``incident_mark_transferred``: "Mark transferred"."""

    transfer_system: _Text = Field(default="", max_length=MAX_SYSTEM)
    transfer_reference: _Text = Field(default="", max_length=MAX_SYSTEM_REFERENCE)


class AddPupilPayload(RecordPayload):
    """``incident_add_pupil``: "Add a pupil" (appended to the record; nothing is replaced)."""

    pupil: _Text = Field(default="", max_length=MAX_PUPIL_NAME)


def _execute(title: str, verb: Verb, data: dict[str, Any], *, style: str | None = None) -> ActionExecute:
    return ActionExecute.with_fallback(title, verb.value, data, style=style)


def _para(text: str, **kwargs: Any) -> TextBlock:
    return TextBlock(text=text, **kwargs)


def _when(moment: datetime, calendar: SchoolCalendar) -> str:
    return calendar.local(moment).strftime("%a %d %b %Y, %H:%M")


# --- the details card's section ------------------------------------------------------------------------------


_MAX_WORDS_SHOWN = 200  # the card stays under Teams' ~28 KB: the whole text is in the record and its PDF
_MAX_VIEW_SHOWN = 120
_MAX_PUPILS_SHOWN = 6
_MAX_REFERRALS_SHOWN = 1  # the latest one, each with its latest outcome
_MAX_OUTCOME_SHOWN = 80
_IN_THE_PDF = " … (the whole text is in the record and its PDF)"


def _excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + _IN_THE_PDF


def record_section(extras: RecordExtras, *, calendar: SchoolCalendar, compact: bool = False) -> list[Element]:
    """What the record holds beyond the facts: the child's words (verbatim, in quotes), the reporter's view, the
    pupils, the referrals with their outcomes, and the transfer. Long texts are cut here, never in the record;
    ``compact``: only what is recorded, the texts in the PDF (a card that would not fit in a Teams message)."""
    items: list[Element] = []
    if extras.transfer is not None:
        items.append(Container(style="good", items=[_para(
            f"**Transferred to {escape_markdown(extras.transfer.label, one_line=True)}** on "
            f"{_when(extras.transfer.at, calendar)} by {escape_markdown(extras.transfer.by, one_line=True)}")]))
    if compact:
        recorded = [name for name, present in (
            ("the child's own words", extras.statement.child_words), ("the reporter's view", extras.statement.opinion),
            (f"{len(extras.pupils)} pupil(s)", extras.pupils), (f"{len(extras.referrals)} referral(s)",
                                                                 extras.referrals)) if present]
        if recorded:
            items.append(_para(f"**Also recorded:** {', '.join(recorded)}. The card is full: **Export PDF** shows "
                               "them all.", spacing="Medium"))
        return items
    if extras.statement.child_words:
        items += [_para("**The child's own words** (verbatim)", spacing="Medium"),
                  _para(f"“{escape_markdown(_excerpt(extras.statement.child_words, _MAX_WORDS_SHOWN))}”",
                        spacing="Small")]
    if extras.statement.opinion:
        items += [_para("**The reporter's view** (opinion, not fact)", spacing="Medium"),
                  _para(escape_markdown(_excerpt(extras.statement.opinion, _MAX_VIEW_SHOWN)), spacing="Small")]
    if extras.pupils:
        items += [_para(f"**Pupils ({len(extras.pupils)})**", spacing="Medium"),
                  _para("\n".join([f"- {escape_markdown(p.name, one_line=True)}"
                                   for p in extras.pupils[:_MAX_PUPILS_SHOWN]]
                                  + ([f"- and {len(extras.pupils) - _MAX_PUPILS_SHOWN} more (in the PDF)"]
                                     if len(extras.pupils) > _MAX_PUPILS_SHOWN else [])), spacing="Small")]
    if extras.referrals:
        earlier = len(extras.referrals) - _MAX_REFERRALS_SHOWN
        items.append(_para(f"**Referrals ({len(extras.referrals)})**" + (f": the latest {_MAX_REFERRALS_SHOWN}, the "
                                                                         "others in the PDF" if earlier > 0 else ""),
                           spacing="Medium"))
        for referral in extras.referrals[-_MAX_REFERRALS_SHOWN:]:
            items.append(_para(f"{escape_markdown(referral.label, one_line=True)} · by "
                               f"{escape_markdown(referral.by, one_line=True)}", size="Small", spacing="Small"))
            if not referral.outcomes:
                items.append(_para("Outcome: not recorded yet", size="Small", is_subtle=True, spacing="None"))
            for outcome in referral.outcomes[-1:]:  # the latest; every outcome is in the chronology and the PDF
                items.append(_para(f"Outcome ({_when(outcome.at, calendar)}, "
                                   f"{escape_markdown(outcome.by, one_line=True)}): "
                                   f"{escape_markdown(_excerpt(outcome.outcome, _MAX_OUTCOME_SHOWN))}", size="Small",
                                   spacing="None"))
    return items


def record_actions(incident_id: int, status: Status, extras: RecordExtras) -> ActionSet:
    """The record's actions for the people handling it: a decision with its reason, a referral's outcome, a pupil
    added, the PDF, and "mark transferred"."""
    data = {"incident": incident_id}
    actions: list[ActionExecute | ActionShowCard] = []
    if status is not Status.CLOSED:
        actions.append(ActionShowCard(title="Record a decision", card=AdaptiveCard(
            body=[InputText(id="decision", label="Decision", is_required=True, error_message="Say what was decided.",
                            max_length=MAX_DECISION),
                  InputText(id="decision_reason", label="Reason", is_required=True, error_message="Give the reason.",
                            is_multiline=True, max_length=MAX_REASON)],
            actions=[_execute("Record decision", Verb.DECISION, data, style="positive")])))
    if extras.referrals:
        actions.append(ActionShowCard(title="Referral outcome", card=AdaptiveCard(
            body=[InputChoiceSet(id="referral", label="Referral", style="compact", is_required=True,
                                 error_message="Choose the referral.", value=str(extras.referrals[-1].entry_id),
                                 choices=[Choice(title=r.label, value=str(r.entry_id)) for r in extras.referrals]),
                  InputText(id="referral_outcome", label="Outcome (added; nothing is overwritten)",
                            is_required=True, error_message="Say what the outcome was.", is_multiline=True,
                            max_length=MAX_REFERRAL_OUTCOME)],
            actions=[_execute("Record outcome", Verb.REFERRAL_OUTCOME, data, style="positive")])))
    actions.append(ActionShowCard(title="Add a pupil", card=AdaptiveCard(
        body=[InputText(id="pupil", label="Pupil's first name and surname (added; nobody is replaced)",
                        is_required=True, error_message="Give the pupil's name.", max_length=MAX_PUPIL_NAME)],
        actions=[_execute("Add pupil", Verb.ADD_PUPIL, data, style="positive")])))
    actions.append(_execute("Export PDF", Verb.EXPORT, data))
    actions.append(ActionShowCard(title="Mark transferred", card=AdaptiveCard(
        body=[InputChoiceSet(id="transfer_system", label="Put into", style="compact", is_required=True,
                             error_message="Choose the system.",
                             choices=[Choice(title=name, value=name) for name in SAFEGUARDING_SYSTEMS]),
              InputText(id="transfer_reference", label="Its reference", is_required=True,
                        error_message="Give its reference.", max_length=MAX_SYSTEM_REFERENCE)],
        actions=[_execute("Record transfer", Verb.TRANSFERRED, data, style="positive")])))
    return ActionSet(actions=list(actions))


def transfer_facts(extras: RecordExtras, calendar: SchoolCalendar) -> list[Fact]:
    """One fact for a compact view (the list of reports): where the record went."""
    if extras.transfer is None:
        return []
    return [Fact(title="Transferred", value=f"{escape_markdown(extras.transfer.label, one_line=True)}, "
                                            f"{_when(extras.transfer.at, calendar)}")]


def transfer_fact_set(extras: RecordExtras, calendar: SchoolCalendar) -> list[Element]:
    facts = transfer_facts(extras, calendar)
    return [FactSet(facts=facts)] if facts else []


# --- the PDF's delivery ----------------------------------------------------------------------------------------


def record_file_consent_card(file_name: str, size: int, export_id: str) -> dict[str, Any]:
    """Teams' file consent card for the record's PDF; the export's id comes back in the invoke's ``context``."""
    context = {RECORD_EXPORT_CONTEXT: export_id}
    return {
        "contentType": FILE_CONSENT_CONTENT_TYPE,
        "name": file_name,
        "content": {
            "description": "The report's safeguarding record (PDF) for the school's safeguarding system. It is kept "
                           "for you for 24 hours.",
            "sizeInBytes": size,
            "acceptContext": context,
            "declineContext": context,
        },
    }


def export_activity(file_name: str, size: int, export_id: str) -> dict[str, Any]:
    """The personal message carrying the file consent card (sent through the outbox)."""
    return {"type": "message", "summary": "A record to save (PDF)",
            "text": "Accept the file to save the record's PDF in your OneDrive, then put it into the school's "
                    "safeguarding system and press Mark transferred on the report.",
            "attachments": [record_file_consent_card(file_name, size, export_id)]}


def referral_titles(extras: RecordExtras) -> Sequence[str]:
    return [r.label for r in extras.referrals]
