"""Cards for reporting and handling incidents: one function per card.

Every piece of text a person typed (what happened, who is involved, links, notes, names) goes through
``escape_markdown`` so that a Markdown link or emphasis in it is shown as typed, never rendered, and a web address
in it cannot be clicked. The one exception is the report's own link: ``details_card``, the view for the people who
may see the details, adds an "Open the reported link" button when it is an http or https address
(``cards.text.live_link``); everywhere else, and for any other address, it is text. The SLT
channel card (``channel_card``) is built from the reference, category, urgency, times and status only: it
has no parameter through which a detail of the report could reach it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cards.base import (
    Action,
    ActionExecute,
    ActionOpenUrl,
    ActionSet,
    ActionShowCard,
    ActionSubmit,
    AdaptiveCard,
    Choice,
    Container,
    Element,
    Fact,
    FactSet,
    Image,
    InputChoiceSet,
    InputDate,
    InputText,
    TextBlock,
    escape_markdown,
)
from cards.retention import hold_marker
from cards.safeguarding_record import RECORD_FORM_PROBLEMS, RecordInputs, record_actions, record_inputs, record_section
from cards.text import live_link
from domain.calendar import SchoolCalendar
from domain.incidents import (
    ACTION_TAKEN_TITLES,
    AGENCY_TITLES,
    DSL_TOLD_TITLES,
    EMERGENCY_STEPS,
    MAX_ABOUT_OTHERS,
    MAX_ABOUT_STAFF,
    MAX_INVOLVED,
    MAX_LINK,
    MAX_NOTE,
    MAX_PERSON_ID,
    MAX_PLATFORM,
    MAX_WHAT_HAPPENED,
    MAX_WHEN_DETAIL,
    OUTCOME_TITLES,
    PLATFORMS,
    ROUTING,
    STATUS_TITLES,
    URGENCY_TITLES,
    ActionTaken,
    Agency,
    Category,
    CategoryRule,
    ChannelView,
    ChronologyEntry,
    DslTold,
    OutcomeKind,
    ReportDetails,
    Source,
    Status,
    Urgency,
    ico_deadline,
)
from domain.media_enquiry import MediaEnquiry
from domain.roles import ROLE_TITLES, Role
from domain.safeguarding_record import RecordExtras


class Verb(StrEnum):
    """Card action verbs of the incident feature (registered by ``dialogs.incidents``); each has its payload
    model below, beside the card that carries its button."""

    RISK = "incident_risk"
    DSL_TOLD = "incident_dsl_told"
    CHOOSE_CATEGORY = "incident_choose_category"
    CATEGORY = "incident_category"
    SUBMIT = "incident_submit"
    VIEW = "incident_view"
    TAKE_LEAD = "incident_take_lead"
    NOTE = "incident_note"
    ESCALATE = "incident_escalate"
    CLOSE = "incident_close"
    SHOW_SCREENSHOT = "incident_screenshot"
    CONFIRM_SUBJECTS = "incident_subject_confirm"  # "is this report about them?" (cards/incident_subject.py)
    TOPIC = "incident_topic"  # the chooser's first plain question (cards/incident_chooser.py)
    MEDIA_ENQUIRY = "incident_media_enquiry"  # "Send to SLT" on the media enquiry form (cards/media_enquiry.py)


_MAX_CHRONOLOGY_SHOWN = 8  # the card stays under Teams' ~28 KB; the full chronology is in the database and the PDF
_MAX_WHY_SHOWN = 160  # the whole reason is in the record and its PDF
_TITLE = "Report an incident"


# --- payloads: what each verb's button sends back ---------------------------------------------------------------
#
# The router validates a verb's data against its model before any service runs. Action.Execute data carries the
# card's input values beside the button's own data (and the Action.Submit fallback a "verb" key): unknown keys
# are ignored. A choice the person must make (the outcome, who it was escalated to ...) is optional here, so the
# handler can answer with what to do instead of "out of date".

MAX_RECORD_ID = 2**31 - 1  # incident and screenshot ids are INTEGER columns (PostgreSQL's int4)
MAX_EXTERNAL_REFERENCE = 100
_MAX_DATE_TEXT = 40  # an Input.Date sends YYYY-MM-DD; a longer text is still checked by the form ("not a date")
_MAX_ACTIONS_TEXT = 400  # a multi-select sends its values comma-separated; all of them is well under this
_MAX_PEOPLE_TEXT = MAX_ABOUT_STAFF * (MAX_PERSON_ID + 1)  # people chosen, comma separated


def _not_a_bool(value: object) -> object:
    """JSON ``true`` is not an id (pydantic would read it as 1)."""
    if isinstance(value, bool):
        raise ValueError("an id is a number")
    return value


def _blank_is_none(value: object) -> object:
    """A choice set nobody answered sends "" (or nothing)."""
    return None if value == "" else value


def _none_is_blank(value: object) -> object:
    """An empty text input may come as null."""
    return "" if value is None else value


RecordId = Annotated[int, BeforeValidator(_not_a_bool), Field(ge=1, le=MAX_RECORD_ID)]
Draft = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]  # the report's submission key (uuid4 hex)
RiskAnswer = Literal["yes", "no"]
_Text = Annotated[str, BeforeValidator(_none_is_blank)]
_RiskChoice = Annotated[RiskAnswer | None, BeforeValidator(_blank_is_none)]
_DslToldChoice = Annotated[DslTold | None, BeforeValidator(_blank_is_none)]
_CategoryChoice = Annotated[Category | None, BeforeValidator(_blank_is_none)]
_AgencyChoice = Annotated[Agency | None, BeforeValidator(_blank_is_none)]
_OutcomeChoice = Annotated[OutcomeKind | None, BeforeValidator(_blank_is_none)]


class _Payload(BaseModel):
    """A button's data: snake_case as the cards send it; input values and Teams' own keys ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _FlowPayload(_Payload):
    """Every step of the report form carries the draft (the submission key) and the answer about risk."""

    draft: Draft
    risk: RiskAnswer

    @property
    def at_risk(self) -> bool:
        return self.risk == "yes"


def school_time(moment: datetime, calendar: SchoolCalendar) -> str:
    """``Tue 24 Nov 2026, 10:42`` in the school's time zone (the day of the month always in two digits)."""
    return calendar.local(moment).strftime("%a %d %b %Y, %H:%M")


def _execute(title: str, verb: Verb, data: dict[str, Any], *, style: str | None = None,
             send_inputs: bool = True) -> ActionExecute:
    """A Universal Action with its Action.Submit fallback; ``send_inputs=False``: a button that goes back, which
    neither checks nor sends the card's inputs (a required one left empty must not stop it)."""
    inputs = None if send_inputs else "none"
    return ActionExecute.with_fallback(title, verb.value, data, style=style,
                                       associated_inputs=inputs)


def _heading(text: str, color: str | None = None) -> TextBlock:
    return TextBlock(text=text, size="Large", weight="Bolder", style="heading", color=color)


def _para(text: str, **kwargs: Any) -> TextBlock:
    return TextBlock(text=text, **kwargs)


def _required_text(input_id: str, label: str, error: str, *, multiline: bool = False, max_length: int,
                   value: str | None = None, placeholder: str | None = None) -> InputText:
    return InputText(
        id=input_id, label=label, is_required=True, error_message=error, is_multiline=multiline or None,
        max_length=max_length, value=value or None, placeholder=placeholder,
    )


# --- reporting: the questions ---------------------------------------------------------------------------------


class RiskPayload(_FlowPayload):
    """``incident_risk``: "Yes, someone is at risk" or "No" on ``risk_question_card``."""


def risk_question_card(draft: str) -> AdaptiveCard:
    """The first question of every report: is anyone at immediate risk of harm?"""
    return AdaptiveCard(
        fallback_text="Report an incident: is anyone at immediate risk of harm?",
        body=[
            _heading(_TITLE),
            _para("First: **is anyone at immediate risk of harm?**"),
            _para("A child or adult who could be hurt now or very soon, online or offline.", is_subtle=True,
                  spacing="None"),
        ],
        actions=[
            _execute("Yes, someone is at risk", Verb.RISK, {"draft": draft, "risk": "yes"}, style="destructive"),
            _execute("No", Verb.RISK, {"draft": draft, "risk": "no"}),
        ],
    )


class DslToldPayload(_FlowPayload):
    """``incident_dsl_told``: "Continue the report" on ``emergency_card``, with the answer (None: not given)."""

    dsl_told: _DslToldChoice = None


def emergency_card(draft: str, dsl_names: Sequence[str]) -> AdaptiveCard:
    """The emergency steps, shown at once when someone is at risk, then: have you told the DSL verbally?"""
    who = ", ".join(escape_markdown(name, one_line=True) for name in dsl_names) if dsl_names else "the school's DSL"
    return AdaptiveCard(
        fallback_text="Someone is at risk: call 999 if they are in danger, follow the child protection procedure, "
        "contact the DSL now.",
        body=[
            Container(
                style="attention",
                bleed=True,
                items=[
                    _heading("Act now", color="Attention"),
                    *[_para(f"{index}. {step}", spacing="Small") for index, step in enumerate(EMERGENCY_STEPS, 1)],
                    _para(f"Designated Safeguarding Lead: **{who}**", spacing="Medium"),
                ],
            ),
            _para("Then carry on with this report: it is marked urgent and reaches the right people at once.",
                  spacing="Medium"),
            InputChoiceSet(
                id="dsl_told", label="Have you told the DSL verbally?", style="expanded", is_required=True,
                error_message="Say whether you have told the DSL.",
                choices=[Choice(title=DSL_TOLD_TITLES[answer], value=answer.value) for answer in DslTold],
            ),
        ],
        actions=[_execute("Continue the report", Verb.DSL_TOLD, {"draft": draft, "risk": "yes"}, style="positive")],
    )


def _flow_data(draft: str, risk: bool, dsl_told: DslTold | None) -> dict[str, Any]:
    data: dict[str, Any] = {"draft": draft, "risk": "yes" if risk else "no"}
    if dsl_told is not None:
        data["dsl_told"] = dsl_told.value
    return data


class CategoryPayload(DslToldPayload):
    """``incident_category``: "Next" on ``category_card``, with the chosen category (None: none chosen)."""

    category: _CategoryChoice = None


def category_card(draft: str, risk: bool, dsl_told: DslTold | None, *, problem: str | None = None) -> AdaptiveCard:
    """What the report is about: the first plain question of the chooser (``cards/incident_chooser.py``), whose
    answers end on exactly one category (each with its own guidance and routing)."""
    from cards.incident_chooser import topic_card  # the chooser builds on this module's payloads and buttons

    return topic_card(draft, risk, dsl_told, problem=problem)


@dataclass(frozen=True)
class Prefill:
    """What a report form starts with (e.g. from a Teams message reported with "Report to SLT")."""

    what_happened: str = ""
    involved: str = ""
    platform: str = ""
    link: str = ""
    # who it is about (cards/incident_subject.py): the staff chosen (ids, comma separated), anyone else as typed, and
    # the staff the bot knows (Entra object id, name) as the picker's choices where Teams has no people picker
    about_staff: str = ""
    about_others: str = ""
    staff_choices: tuple[tuple[str, str], ...] = ()
    # the rest of the form, kept as typed when it comes back with a problem (``kept``)
    child_words: str = ""
    opinion: str = ""
    pupils: str = ""
    when_date: str = ""
    when_detail: str = ""
    actions_taken: str = ""  # comma separated, as Teams sends a multi-select

    @classmethod
    def kept(cls, form: _ReportInputs, *, staff_choices: tuple[tuple[str, str], ...] = ()) -> Prefill:
        """Everything typed into a report form that comes back with a problem, so nothing has to be typed again
        (a date or an action the form never offers is left out)."""
        typed = form.inputs()
        try:
            when = date.fromisoformat(typed["when_date"]).isoformat() if typed["when_date"] else ""
        except ValueError:
            when = ""
        offered = {action.value for action in ActionTaken}
        chosen = dict.fromkeys(part.strip() for part in typed["actions_taken"].split(","))
        actions = ",".join(action for action in chosen if action in offered)
        return cls(what_happened=typed["what_happened"], involved=typed["involved"], platform=typed["platform"],
                   link=typed["link"], about_staff=typed["about_staff"], about_others=typed["about_others"],
                   staff_choices=staff_choices, child_words=typed["child_words"], opinion=typed["opinion"],
                   pupils=typed["pupils"], when_date=when, when_detail=typed["when_detail"], actions_taken=actions)


def _guidance(rule: CategoryRule) -> Container:
    items: list[Element] = [_para(f"**Guidance:** {rule.guidance}")]
    if rule.ico_clock:
        items.append(
            _para("The 72-hour clock for reporting a breach to the ICO starts when the school becomes aware: "
                  "the deadline is shown to the Data Protection Officer as soon as you send this.", spacing="Small")
        )
    return Container(style="accent", items=items)


def _screenshot_line(rule: CategoryRule, minutes: int) -> TextBlock:
    if not rule.accepts_screenshots:
        return _para("Don't attach, copy or forward images for this kind of report: describe them instead.",
                     is_subtle=True, color="Attention")
    return _para(f"Screenshots: after you send this, paste them into this chat within {minutes} minutes. They are "
                 "stored with the report and only the people handling it can see them.", is_subtle=True)


def _details_inputs(today: date, prefill: Prefill) -> list[Element]:
    return [
        _required_text(
            "what_happened", "What happened?", "Say what happened.", multiline=True, max_length=MAX_WHAT_HAPPENED,
            value=prefill.what_happened, placeholder="The facts: what you saw or were told, in your own words",
        ),
        *record_inputs(child_words=prefill.child_words, opinion=prefill.opinion, pupils=prefill.pupils),  # KCSIE
        InputChoiceSet(
            id="platform", label="Where? (platform)", style="compact", placeholder="Choose a platform",
            value=prefill.platform or None, choices=[Choice(title=name, value=name) for name in PLATFORMS],
        ),
        InputText(id="link", label="Link (if there is one)", max_length=MAX_LINK, value=prefill.link or None),
        InputDate(id="when_date", label=f"Date it happened or you saw it (today is {today.strftime('%a %d %b')}; "
                                        "leave empty if your words below say when)", value=prefill.when_date or None),
        InputText(id="when_detail", label="When, in your own words (e.g. last night about 9pm)",
                  max_length=MAX_WHEN_DETAIL, value=prefill.when_detail or None),
        InputText(
            id="involved", label="Who is involved? (pupils, staff, parents: names or descriptions, several allowed)",
            is_multiline=True, max_length=MAX_INVOLVED, value=prefill.involved or None,
        ),
        *_subject_inputs(prefill),
        InputChoiceSet(
            id="actions_taken", label="What have you already done?", style="expanded", is_multi_select=True,
            value=prefill.actions_taken or None,
            choices=[Choice(title=ACTION_TAKEN_TITLES[action], value=action.value) for action in ActionTaken],
        ),
    ]


def _subject_inputs(prefill: Prefill) -> list[Element]:
    """Who the report is about (issue 15, gap 2): the people picker and the text for anyone else."""
    from cards.incident_subject import subject_inputs  # that module builds on this one's payloads and buttons

    return subject_inputs(prefill.about_staff, prefill.about_others, prefill.staff_choices)


class _ReportInputs(RecordInputs, _Payload):
    """The report form's inputs, typed and no longer than the inputs allow; ``ReportDetails`` checks the rest."""

    what_happened: _Text = Field(default="", max_length=MAX_WHAT_HAPPENED)
    platform: _Text = Field(default="", max_length=MAX_PLATFORM)
    link: _Text = Field(default="", max_length=MAX_LINK)
    when_date: _Text = Field(default="", max_length=_MAX_DATE_TEXT)
    when_detail: _Text = Field(default="", max_length=MAX_WHEN_DETAIL)
    involved: _Text = Field(default="", max_length=MAX_INVOLVED)
    actions_taken: _Text = Field(default="", max_length=_MAX_ACTIONS_TEXT)
    about_staff: _Text = Field(default="", max_length=_MAX_PEOPLE_TEXT)  # who it is about (incident_subject.py)
    not_about: _Text = Field(default="", max_length=_MAX_PEOPLE_TEXT)
    confirmed_about: _Text = Field(default="", max_length=_MAX_PEOPLE_TEXT)
    about_others: _Text = Field(default="", max_length=MAX_ABOUT_OTHERS)

    def inputs(self) -> dict[str, str]:
        return self.model_dump(include=set(_ReportInputs.model_fields))


class ChooseCategoryPayload(DslToldPayload):
    """``incident_choose_category``: "Choose another category" on ``details_form_card``."""


class ReportPayload(CategoryPayload, _ReportInputs):
    """``incident_submit``: "Send report" on ``details_form_card``, with what was typed into the form."""

    def details(self) -> ReportDetails:
        """The report, checked.

        Raises:
            ValidationError: something in the form is missing or not valid (``form_problem`` says what).
        """
        return ReportDetails.model_validate({
            **self.inputs(), "category": self.category, "immediate_risk": self.at_risk, "dsl_told": self.dsl_told,
            "source": Source.CHAT,
        })


_FORM_PROBLEMS = {
    **RECORD_FORM_PROBLEMS,  # the safeguarding record's block (cards/safeguarding_record.py)
    "what_happened": "Say what happened.", "platform": "Choose a platform from the list.",
    "link": "The link is too long.", "involved": "The list of people involved is too long.",
    "when_date": "The date is not a date.", "when_detail": "The detail about when is too long.",
    "actions_taken": "Choose what you have done from the list.", "category": "Choose a category.",
    "about_staff": "Choose at most 8 members of staff it is about.", "not_about": "Answer the question again.",
    "about_others": "What you typed about anyone else it is about is too long.",
}


def form_problem(error: ValidationError) -> str:
    """What to tell the reporter about the first problem of a report form that could not be read."""
    for problem in error.errors():
        field_name = str(problem["loc"][0]) if problem["loc"] else ""
        if field_name in _FORM_PROBLEMS:
            return _FORM_PROBLEMS[field_name]
    return "Something in the form could not be read: check it and send it again."


def details_form_card(
    draft: str,
    rule: CategoryRule,
    risk: bool,
    dsl_told: DslTold | None,
    *,
    today: date,
    screenshot_minutes: int,
    prefill: Prefill | None = None,
    problem: str | None = None,
) -> AdaptiveCard:
    """The report itself, with the chosen category's guidance at the top."""
    data = {**_flow_data(draft, risk, dsl_told), "category": rule.category.value}
    body: list[Element] = [_heading(f"Report: {rule.title}"), _guidance(rule)]
    if risk:
        body.append(_para("Someone is at risk: this report is marked **urgent**.", color="Attention"))
    if problem:
        body.append(_para(escape_markdown(problem), color="Attention"))
    body += _details_inputs(today, prefill or Prefill())
    body.append(_screenshot_line(rule, screenshot_minutes))
    return AdaptiveCard(
        fallback_text=f"Report: {rule.title}",
        body=body,
        actions=[
            _execute("Send report", Verb.SUBMIT, data, style="positive"),
            _execute("Choose another category", Verb.CHOOSE_CATEGORY, _flow_data(draft, risk, dsl_told),
                     send_inputs=False),
        ],
    )


# --- reporting: the answer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Routed:
    """Who a report reached, for the reporter's receipt (role titles and names, never the details)."""

    reached: tuple[str, ...] = ()  # e.g. "Designated Safeguarding Lead (Tom Reed)"
    unreachable: tuple[str, ...] = ()  # people it could not reach through Teams: tell them in person
    channel: bool = False  # SLT's channel was told (minimal or restricted notice)
    pending: bool = False  # the directory could not be asked: notifications follow as soon as it answers
    channel_view: ChannelView | None = None  # what this report's route lets the channel show (None: the category's)
    chain: bool = False  # urgent: the safeguarding chain runs on, in real minutes, until someone takes the lead
    nobody: bool = False  # urgent, and nobody at all could be alerted through Teams
    about: str | None = None  # why it goes around someone it is about (domain/incident_routing.py)
    contacts: tuple[tuple[str, str], ...] = ()  # (who, phone number) to try when nobody could be alerted


def _next_steps(rule: CategoryRule, urgency: Urgency, routed: Routed, escalation_minutes: int) -> list[Element]:
    lines: list[str] = []
    channel_view = routed.channel_view or rule.channel
    urgent = urgency is Urgency.URGENT
    if routed.reached:
        reached = "; ".join(escape_markdown(r, one_line=True) for r in routed.reached)
        lines.append(f"Alerted now, with the full details: {reached}." if urgent
                     else f"Sent with the full details to: {reached}.")
    if routed.about:
        lines.append(escape_markdown(routed.about))
    if routed.channel and channel_view is ChannelView.MINIMAL:
        lines.append("SLT's incident channel shows that a report was made (category and urgency only, no details).")
    elif routed.channel:
        lines.append("SLT's incident channel shows only that an urgent restricted report exists." if urgent
                     else "SLT's incident channel shows only that a restricted report exists.")
    if channel_view is ChannelView.NONE:
        lines.append("It is not posted in any channel.")
    if routed.pending:
        lines.append("The school directory could not be reached just now: the people it goes to will be sent it as "
                     "soon as it answers. It is saved.")
    if urgent and routed.chain:
        lines.append(f"It is urgent: if nobody takes the lead within {escalation_minutes} minutes (real time, day or "
                     "night), the next person in the school's safeguarding chain is alerted.")
    elif urgent and rule.escalate_to:
        lines.append(f"It is urgent: if nobody takes the lead within {escalation_minutes} minutes (real time, day or "
                     f"night), the {' and the '.join(_role_names(rule))} are reminded.")
    if rule.category is Category.PRAISE:
        lines.append("Thank you for sharing good news.")
    lines.append("You will be told when it is closed (without the details of what was done).")
    items: list[Element] = []
    if routed.nobody:
        items.append(_nobody_alerted(routed.contacts))
    items.append(_para("**What happens next**", spacing="Medium"))
    items += [_para(f"- {line}", spacing="Small") for line in lines]
    if routed.unreachable:
        items.append(
            Container(
                style="warning",
                items=[
                    _para("**Please also tell them in person or by phone:** "
                          + "; ".join(escape_markdown(name, one_line=True) for name in routed.unreachable)
                          + ". Policy Bot could not reach them in Teams (they have not opened it, or Teams could not "
                            "deliver to them).")
                ],
            )
        )
    return items


def _nobody_alerted(contacts: Sequence[tuple[str, str]]) -> Container:
    """Urgent and nobody could be alerted through Teams: the emergency steps again, with the school's numbers."""
    return Container(
        style="attention",
        items=[
            _para("**Nobody could be alerted through Teams. Act now:**", color="Attention"),
            *[_para(f"{i}. {step}", spacing="Small") for i, step in enumerate(EMERGENCY_STEPS, 1)],
            _para("**Phone, in this order until someone answers:**", spacing="Medium"),
            *[_para(f"- {escape_markdown(who, one_line=True)}: **{escape_markdown(number, one_line=True)}**",
                    spacing="Small") for who, number in contacts],
            _para("Your report is saved: Policy Bot keeps trying the school's safeguarding chain.", is_subtle=True,
                  spacing="Small"),
        ],
    )


def _role_names(rule: CategoryRule) -> list[str]:
    return [ROLE_TITLES[role] for role in Role if role in rule.escalate_to]


def receipt_card(
    reference: str,
    rule: CategoryRule,
    urgency: Urgency,
    received_at: datetime,
    routed: Routed,
    *,
    escalation_minutes: int,
    screenshot_minutes: int | None,
    emergency: bool = False,
    dsl_names: Sequence[str] = (),
    duplicate: bool = False,
    calendar: SchoolCalendar,
) -> AdaptiveCard:
    """What the reporter sees once the report is saved: its reference, exactly who was alerted, and what happens
    next (urgent and nobody reachable: the emergency steps again, with the numbers to phone)."""
    body: list[Element] = []
    if emergency and not routed.nobody:
        who = ", ".join(escape_markdown(name, one_line=True) for name in dsl_names) if dsl_names else "the school's DSL"
        body.append(
            Container(
                style="attention",
                items=[_para("**Act now**", color="Attention"),
                       *[_para(f"{i}. {step}", spacing="Small") for i, step in enumerate(EMERGENCY_STEPS, 1)],
                       _para(f"Designated Safeguarding Lead: **{who}**")],
            )
        )
    body += [
        _heading(f"Report received: {reference}", color="Good"),
        _para("This report was already received: nothing was sent twice." if duplicate
              else "Thank you. Your report is saved.", spacing="None", is_subtle=True),
        FactSet(facts=[
            Fact(title="Reference", value=reference),
            Fact(title="Category", value=rule.title),
            Fact(title="Urgency", value=URGENCY_TITLES[urgency]),
            Fact(title="Received", value=school_time(received_at, calendar)),
        ]),
        *_next_steps(rule, urgency, routed, escalation_minutes),
    ]
    if screenshot_minutes:
        body.append(_para(f"To add screenshots, paste them into your chat with Policy Bot within the next "
                          f"{screenshot_minutes} minutes: they will be stored with this report.", is_subtle=True,
                          spacing="Medium"))
    body.append(_para("Type **my reports** to see your reports and where they are.", is_subtle=True))
    return AdaptiveCard(fallback_text=f"Report received: {reference}", body=body)


def my_reports_card(reports: Sequence[tuple[str, Category, datetime, Status]], *,
                    calendar: SchoolCalendar) -> AdaptiveCard:
    """The reporter's own reports: reference, category, when, status. Never anyone else's, never details."""
    body: list[Element] = [_heading("Your reports")]
    if not reports:
        body.append(_para("You have not reported anything yet. Type **report** to report an incident."))
        return AdaptiveCard(fallback_text="Your reports: none yet", body=body)
    for reference, category, received_at, status in reports:
        body.append(
            Container(
                separator=True, spacing="Medium",
                items=[
                    _para(f"**{reference}**: {ROUTING[category].title}"),
                    _para(f"{school_time(received_at, calendar)} · {STATUS_TITLES[status]}", is_subtle=True,
                          spacing="None"),
                ],
            )
        )
    return AdaptiveCard(fallback_text=f"Your reports: {len(reports)}", body=body)


def closed_notice_card(reference: str, category: Category) -> AdaptiveCard:
    """The reporter is told their report is closed: no outcome, no notes, no names."""
    thanks = "Thank you for sharing good news." if category is Category.PRAISE else "Thank you for reporting it."
    return AdaptiveCard(
        fallback_text=f"Your report {reference} is closed",
        body=[
            _heading(f"Your report {reference} is closed"),
            _para(f"The school has finished dealing with it. {thanks}"),
            _para("Type **my reports** to see your reports.", is_subtle=True),
        ],
    )


def rerouted_notice_card(reference: str) -> AdaptiveCard:
    """What a copy of a report's details shows once a re-check of its routing found it is not for its reader (sent
    while the school directory could not say who it is about): no details, no names."""
    return AdaptiveCard(
        fallback_text=f"{reference} is handled by others",
        body=[
            _heading(f"{reference} is handled by others"),
            _para("This report was sent to you while the school directory could not say who it is about. Now that it "
                  "can, the report has gone to the people the school's rules name for it, and its details are no "
                  "longer shown here. Please do not act on it or share what you read."),
        ],
    )


# --- handling: the SLT channel -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelFacts:
    """Everything the SLT channel may know about a report. Nothing else can reach its card."""

    incident_id: int
    reference: str
    category: Category
    urgency: Urgency
    received_at: datetime
    status: Status
    lead_name: str | None = None
    closed_at: datetime | None = None
    deadline: str | None = None  # a media enquiry's deadline ("media enquiry, deadline X": nothing else of it)


class IncidentPayload(_Payload):
    """``incident_view`` and ``incident_take_lead``: a button naming the report."""

    incident: RecordId


class NotePayload(IncidentPayload):
    """``incident_note``: "Save note" in the note form (an empty note: the handler asks for one)."""

    note: _Text = Field(default="", max_length=MAX_NOTE)


def _note_form(incident_id: int) -> ActionShowCard:
    return ActionShowCard(
        title="Add a note",
        card=AdaptiveCard(
            body=[_required_text("note", "Note (it joins the chronology)", "Write the note.", multiline=True,
                                 max_length=MAX_NOTE)],
            actions=[_execute("Save note", Verb.NOTE, {"incident": incident_id}, style="positive")],
        ),
    )


class EscalatePayload(IncidentPayload):
    """``incident_escalate``: "Record escalation" in the escalation form."""

    agency: _AgencyChoice = None
    escalation_reason: _Text = Field(default="", max_length=MAX_NOTE)
    external_reference: _Text = Field(default="", max_length=MAX_EXTERNAL_REFERENCE)
    referral_date: _Text = Field(default="", max_length=_MAX_DATE_TEXT)  # the day the referral was made (KCSIE)


def _escalate_form(incident_id: int) -> ActionShowCard:
    return ActionShowCard(
        title="Escalate",
        card=AdaptiveCard(
            body=[
                InputChoiceSet(
                    id="agency", label="Escalated or referred to", style="expanded", is_required=True,
                    error_message="Choose who it was escalated to.",
                    choices=[Choice(title=AGENCY_TITLES[agency], value=agency.value) for agency in Agency],
                ),
                _required_text("escalation_reason", "Why (the reason for this decision)", "Say why it was escalated.",
                               multiline=True, max_length=MAX_NOTE),
                InputDate(id="referral_date", label="Date the referral was made (empty: today)"),
                InputText(id="external_reference", label="Their reference number (if any)",
                          max_length=MAX_EXTERNAL_REFERENCE),
            ],
            actions=[_execute("Record escalation", Verb.ESCALATE, {"incident": incident_id}, style="positive")],
        ),
    )


class ClosePayload(IncidentPayload):
    """``incident_close``: "Close report" in the close form."""

    outcome_kind: _OutcomeChoice = None
    outcome: _Text = Field(default="", max_length=MAX_NOTE)


def _close_form(incident_id: int) -> ActionShowCard:
    return ActionShowCard(
        title="Close",
        card=AdaptiveCard(
            body=[
                InputChoiceSet(
                    id="outcome_kind", label="Outcome", style="expanded", is_required=True,
                    error_message="Choose the outcome.",
                    choices=[Choice(title=OUTCOME_TITLES[kind], value=kind.value) for kind in OutcomeKind],
                ),
                _required_text("outcome", "What was done and the reason for this decision (required, \"no further "
                               "action\" too; the reporter is not shown this)",
                               "Give the reason for this decision.", multiline=True, max_length=MAX_NOTE),
            ],
            actions=[_execute("Close report", Verb.CLOSE, {"incident": incident_id}, style="destructive")],
        ),
    )


def _handling_actions(incident_id: int, status: Status, *, view: bool) -> list[Action]:
    actions: list[Action] = []
    if view:
        actions.append(_execute("View details", Verb.VIEW, {"incident": incident_id}))
    if status is Status.OPEN:
        actions.append(_execute("Take the lead", Verb.TAKE_LEAD, {"incident": incident_id}, style="positive"))
    actions.append(_note_form(incident_id))
    if status is not Status.CLOSED:
        actions += [_escalate_form(incident_id), _close_form(incident_id)]
    return actions


def _status_facts(status: Status, lead_name: str | None, closed_at: datetime | None,
                  calendar: SchoolCalendar) -> list[Fact]:
    facts = [Fact(title="Status", value=STATUS_TITLES[status])]
    if lead_name:
        facts.append(Fact(title="Lead", value=escape_markdown(lead_name, one_line=True)))
    if closed_at:
        facts.append(Fact(title="Closed", value=school_time(closed_at, calendar)))
    return facts


def channel_card(facts: ChannelFacts, *, calendar: SchoolCalendar) -> AdaptiveCard:
    """The SLT channel's card: minimal detail, or for restricted categories only that a report exists; an urgent
    report says so in its heading (still without any detail)."""
    rule = ROUTING[facts.category]
    if rule.channel is ChannelView.NONE:
        raise ValueError(f"{facts.category} reports are never posted in a channel")
    view_only = [_execute("View details", Verb.VIEW, {"incident": facts.incident_id})]
    urgent = facts.urgency is Urgency.URGENT
    if rule.channel is ChannelView.RESTRICTED:
        title = f"{'Urgent: r' if urgent else 'R'}estricted report {facts.reference}"
        return AdaptiveCard(
            fallback_text=title,
            body=[
                _heading(title, color="Attention" if urgent else None),
                _para("A restricted report exists. Its details have gone privately to the people the policy names; "
                      "only they can open it."),
                FactSet(facts=[*([Fact(title="Urgency", value=URGENCY_TITLES[facts.urgency])] if urgent else []),
                               Fact(title="Received", value=school_time(facts.received_at, calendar)),
                               *_status_facts(facts.status, None, facts.closed_at, calendar)]),
            ],
            actions=view_only,
        )
    good_news = facts.urgency is Urgency.GOOD_NEWS
    title = f"Good news {facts.reference}" if good_news else \
        f"{'Urgent: i' if urgent else 'I'}ncident {facts.reference}"
    body: list[Element] = [
        _heading(title, color="Attention" if urgent else ("Good" if good_news else None)),
        FactSet(facts=[
            Fact(title="Category", value=rule.title),
            *([Fact(title="Deadline", value=facts.deadline)] if facts.deadline else []),  # a media enquiry's
            Fact(title="Urgency", value=URGENCY_TITLES[facts.urgency]),
            Fact(title="Received", value=school_time(facts.received_at, calendar)),
            *_status_facts(facts.status, facts.lead_name, facts.closed_at, calendar),
        ]),
        _para("Details go only to the people the policy names: **View details** checks your role and sends them "
              "to your personal chat.", is_subtle=True, size="Small"),
    ]
    return AdaptiveCard(
        fallback_text=f"{title} ({URGENCY_TITLES[facts.urgency]})",
        body=body,
        actions=_handling_actions(facts.incident_id, facts.status, view=True),
    )


def channel_summary(facts: ChannelFacts) -> str:
    """The notification text of a channel post: no more than the card shows."""
    urgent = "Urgent: " if facts.urgency is Urgency.URGENT else ""
    if ROUTING[facts.category].channel is ChannelView.RESTRICTED:
        return f"{urgent}Restricted report {facts.reference}"
    return f"{urgent}Incident {facts.reference} ({URGENCY_TITLES[facts.urgency]})"


# --- handling: the full details ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenshotInfo:
    id: int
    file_name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class FullReport:
    """The whole report, for people the category's rule permits."""

    incident_id: int
    reference: str
    category: Category
    urgency: Urgency
    status: Status
    received_at: datetime
    reporter_name: str
    immediate_risk: bool
    dsl_told: DslTold | None
    what_happened: str
    platform: str
    link: str
    when_date: date | None
    when_detail: str
    involved: str
    actions_taken: tuple[ActionTaken, ...]
    source: Source
    source_author: str
    lead_name: str | None
    closed_at: datetime | None
    outcome_kind: OutcomeKind | None
    outcome: str | None
    chronology: tuple[ChronologyEntry, ...] = ()
    screenshots: tuple[ScreenshotInfo, ...] = ()
    legal_hold: bool = False  # the DPO or Head Teacher placed a legal hold on it (or on a person it names)
    about: tuple[str, ...] = ()  # who it is about (staff named, anyone else as typed): issue 15, gap 2
    channel_view: ChannelView | None = None  # what its route lets a channel show (None: its category's)
    record: RecordExtras = RecordExtras()  # the safeguarding record's parts (cards/safeguarding_record.py)
    media_enquiry: MediaEnquiry | None = None  # a media enquiry's own fields (its own form: cards/media_enquiry.py)


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def _screenshot_line_text(shot: ScreenshotInfo) -> str:
    """A screenshot's file name and type as sent (both from the upload: inert), and its size."""
    return (f"{escape_markdown(shot.file_name, one_line=True)} ({escape_markdown(shot.content_type, one_line=True)}, "
            f"{_size(shot.size)})")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chronology(entries: Sequence[ChronologyEntry], calendar: SchoolCalendar) -> list[Element]:
    shown = list(entries)[-_MAX_CHRONOLOGY_SHOWN:]
    items: list[Element] = [_para("**Chronology**", spacing="Medium", separator=True)]
    if len(entries) > len(shown):
        items.append(_para(f"{len(entries) - len(shown)} earlier entries are kept in the record.", is_subtle=True,
                           size="Small"))
    for entry in shown:
        line = (f"{school_time(entry.at, calendar)} · **{escape_markdown(entry.actor_name, one_line=True)}** · "
                f"{escape_markdown(entry.what)}")
        items.append(_para(line, size="Small", spacing="Small"))
        if entry.why:
            items.append(_para(escape_markdown(_short(entry.why, _MAX_WHY_SHOWN)), size="Small", is_subtle=True,
                               spacing="None"))
    return items


def _when(report: FullReport) -> str:
    parts = [report.when_date.strftime("%a %d %b %Y") if report.when_date else ""]
    if report.when_detail:
        parts.append(escape_markdown(report.when_detail))
    return ", ".join(part for part in parts if part) or "Not given"


class ScreenshotPayload(IncidentPayload):
    """``incident_screenshot``: "Show screenshot N" on ``details_card``."""

    attachment: RecordId


_CARD_BUDGET = 27 * 1024  # bytes of card JSON: a message with it stays under Teams' ~28 KB


def details_card(report: FullReport, *, calendar: SchoolCalendar, banner: str | None = None,
                 handling: bool = True) -> AdaptiveCard:
    """The full report with its chronology and the handling actions, for permitted people in a personal chat.

    When the safeguarding record's long texts would take the card past Teams' limit, the card names them and the
    PDF holds them (``cards/safeguarding_record.py``)."""
    card = _details_card(report, calendar=calendar, banner=banner, handling=handling, compact=False)
    if len(json.dumps(card.to_dict()).encode("utf-8")) > _CARD_BUDGET:
        card = _details_card(report, calendar=calendar, banner=banner, handling=handling, compact=True)
    return card


def _details_card(report: FullReport, *, calendar: SchoolCalendar, banner: str | None, handling: bool,
                  compact: bool) -> AdaptiveCard:
    rule = ROUTING[report.category]
    body: list[Element] = []
    if banner:
        body.append(Container(style="attention", items=[_para(escape_markdown(banner), weight="Bolder")]))
    if report.legal_hold:
        body.append(hold_marker())
    body += [
        _heading(f"{report.reference}: {rule.title}",
                 color="Attention" if report.urgency is Urgency.URGENT else None),
        _para("Restricted: only the people the policy names can see this."
              if rule.restricted or report.channel_view not in (None, ChannelView.MINIMAL)
              else "Full details: for the people handling this report only.", is_subtle=True, spacing="None"),
    ]
    facts = [
        Fact(title="Urgency", value=URGENCY_TITLES[report.urgency]),
        *_status_facts(report.status, report.lead_name, report.closed_at, calendar),
        Fact(title="Received", value=school_time(report.received_at, calendar)),
        Fact(title="Reported by", value=escape_markdown(report.reporter_name, one_line=True)),
        Fact(title="Anyone at immediate risk", value="Yes" if report.immediate_risk else "No"),
    ]
    if report.dsl_told is not None:
        facts.append(Fact(title="DSL told verbally", value=DSL_TOLD_TITLES[report.dsl_told]))
    if report.media_enquiry is None:  # a media enquiry has no platform, link or "when" of its own
        facts += [
            Fact(title="Platform", value=escape_markdown(report.platform, one_line=True) or "Not given"),
            Fact(title="Link", value=escape_markdown(report.link, one_line=True) or "None"),
            Fact(title="When", value=_when(report)),
            *([Fact(title="About", value="; ".join(escape_markdown(who, one_line=True) for who in report.about))]
              if report.about else []),
        ]
    if report.source is Source.MESSAGE:
        facts.append(Fact(title="From a Teams message by",
                          value=escape_markdown(report.source_author, one_line=True) or "unknown"))
    body.append(FactSet(facts=facts))
    link = live_link(report.link)
    if link is not None:  # the one live link of any card: for the people who may see the details, http(s) only
        body.append(ActionSet(actions=[ActionOpenUrl(title="Open the reported link", url=link)]))
    if rule.ico_clock:
        body.append(
            Container(
                style="warning",
                items=[_para(f"**ICO deadline: {school_time(ico_deadline(report.received_at), calendar)}** (72 hours "
                             "after the school became aware) if the breach must be reported. The DPO decides.")],
            )
        )
    if report.media_enquiry is not None:
        from cards.media_enquiry import media_enquiry_section  # builds on this module's helpers

        body += media_enquiry_section(report.media_enquiry)
    else:
        body += [
            _para("**What happened**", spacing="Medium"),
            _para(escape_markdown(report.what_happened), spacing="Small"),
            _para("**Who is involved**", spacing="Medium"),
            _para(escape_markdown(report.involved) or "Not given", spacing="Small"),
            _para("**Already done**", spacing="Medium"),
            _para(", ".join(ACTION_TAKEN_TITLES[a] for a in report.actions_taken) or "Nothing yet",
                  spacing="Small"),
        ]
    body += record_section(report.record, calendar=calendar, compact=compact)  # KCSIE: child's words, view, pupils
    if handling:
        body.append(record_actions(report.incident_id, report.status, report.record))
    if report.outcome_kind is not None:
        body.append(_para(f"**Outcome: {OUTCOME_TITLES[report.outcome_kind]}**", spacing="Medium"))
        body.append(_para(escape_markdown(report.outcome or ""), spacing="Small"))
    if report.screenshots:
        body.append(_para(f"**Screenshots ({len(report.screenshots)})**", spacing="Medium"))
        for index, shot in enumerate(report.screenshots, 1):
            body.append(_para(f"{index}. {_screenshot_line_text(shot)}", size="Small", spacing="Small"))
        body.append(ActionSet(actions=[
            _execute(f"Show screenshot {index}", Verb.SHOW_SCREENSHOT,
                     {"incident": report.incident_id, "attachment": shot.id})
            for index, shot in enumerate(report.screenshots, 1)
        ][:5]))
    body += _chronology(report.chronology, calendar)
    actions = _handling_actions(report.incident_id, report.status, view=False) if handling else None
    return AdaptiveCard(fallback_text=f"{report.reference}: {rule.title}", body=body, actions=actions)


def details_summary(reference: str) -> str:
    """Notification text of a personal details card: the reference, nothing of the content."""
    return f"Incident report {reference} for you"


def screenshot_card(reference: str, index: int, shot: ScreenshotInfo, data_uri: str | None) -> AdaptiveCard:
    """One screenshot for a permitted viewer (inline when it fits in a Teams message)."""
    body: list[Element] = [
        _heading(f"{reference}: screenshot {index}"),
        _para(_screenshot_line_text(shot), is_subtle=True, spacing="None"),
    ]
    if data_uri is not None:
        body.append(Image(url=data_uri, alt_text=f"Screenshot {index} of {reference}", size="Stretch"))
    else:
        body.append(_para("This screenshot is too large for Teams to show in a bot message (about 28 KB at most). "
                          "It is kept with the report; ask whoever runs Policy Bot for an export.", color="Warning"))
    return AdaptiveCard(fallback_text=f"{reference}: screenshot {index}", body=body)


# --- "Report to SLT" on a Teams message (message extension task module) -----------------------------------------


class MessageReportPayload(_ReportInputs):
    """What "Send report" on ``message_report_card`` submits (the task module's ``data``). The message's author
    comes from Teams' own payload, never from here."""

    draft: Draft
    risk: _RiskChoice = None
    dsl_told: _DslToldChoice = None
    category: _CategoryChoice = None

    def details(self, *, source_author: str) -> ReportDetails:
        """The report, checked (whether the DSL was told counts only when someone is at risk).

        Raises:
            ValidationError: something in the form is missing or not valid (``form_problem`` says what).
        """
        at_risk = self.risk == "yes"
        return ReportDetails.model_validate({
            **self.inputs(), "category": self.category, "immediate_risk": at_risk,
            "dsl_told": self.dsl_told if at_risk else None, "source": Source.MESSAGE, "source_author": source_author,
        })


def message_report_card(draft: str, *, author: str, text: str, link: str, today: date) -> AdaptiveCard:
    """The report form opened from a Teams message, prefilled with its text and author (Action.Submit: task module)."""
    prefill = Prefill(
        what_happened=text, involved=f"Message posted by {author}" if author else "", platform="Teams or email",
        link=link,
    )
    body: list[Element] = [
        _heading("Report to SLT"),
        _para("The message's text and author are filled in below: check them and add what you know.", is_subtle=True,
              spacing="None"),
        InputChoiceSet(
            id="risk", label="Is anyone at immediate risk of harm?", style="expanded", is_required=True,
            error_message="Say whether anyone is at immediate risk.",
            choices=[Choice(title="Yes, someone is at risk", value="yes"), Choice(title="No", value="no")],
        ),
        InputChoiceSet(
            id="dsl_told", label="If someone is at risk: have you told the DSL verbally?", style="compact",
            placeholder="Choose", choices=[Choice(title=DSL_TOLD_TITLES[a], value=a.value) for a in DslTold],
        ),
        InputChoiceSet(
            id="category", label="What is it about?", style="compact", is_required=True,
            error_message="Choose what the report is about.", placeholder="Choose a category",
            choices=[Choice(title=rule.title, value=rule.category.value) for rule in ROUTING.values()
                     if rule.category is not Category.MEDIA_ENQUIRY],  # its own form, in the chat (gap 7)
        ),
        *_details_inputs(today, prefill),
    ]
    return AdaptiveCard(
        fallback_text="Report to SLT",
        body=body,
        actions=[ActionSubmit(title="Send report", style="positive",
                              data={"draft": draft, "source": Source.MESSAGE.value, "source_author": author})],
    )


def problem_card(title: str, lines: Sequence[str]) -> AdaptiveCard:
    """A short explanation when a report cannot go ahead (the message extension's answer)."""
    return AdaptiveCard(
        fallback_text=title,
        body=[_heading(title), *[_para(escape_markdown(line)) for line in lines]],
    )


@dataclass(frozen=True)
class ListedReport:
    """One line of ``open reports``: what the list shows, never the details (those are behind the button)."""

    incident_id: int
    reference: str
    category: Category
    urgency: Urgency
    received_at: datetime
    status: Status
    lead_name: str | None
    deadline: str | None = None  # a media enquiry's deadline


def age_text(received_at: datetime, now: datetime) -> str:
    """How long ago a report came in, in the largest whole unit ("45 min", "3 h", "2 days")."""
    minutes = max(0, int((now - received_at).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def open_reports_card(reports: Sequence[ListedReport], *, now: datetime) -> AdaptiveCard:
    """``open reports`` for SLT, the Head Teacher and the DSL: the reports each may see, open first (urgent, then
    the longest waiting), with urgency, age, status and lead, each with a button to its details."""
    body: list[Element] = [_heading("Open reports")]
    if not reports:
        body.append(_para("There are no reports for you to see."))
        return AdaptiveCard(fallback_text="Open reports: none", body=body)
    waiting = sum(1 for report in reports if report.status is not Status.CLOSED)
    body.append(_para(f"{waiting} open. Recently closed ones follow. **View details** checks your role again.",
                      is_subtle=True))
    for report in reports:
        urgent = report.urgency is Urgency.URGENT and report.status is not Status.CLOSED
        facts = [Fact(title="Urgency", value=URGENCY_TITLES[report.urgency]),
                 Fact(title="Age", value=age_text(report.received_at, now)),
                 Fact(title="Status", value=STATUS_TITLES[report.status])]
        if report.deadline:
            facts.insert(0, Fact(title="Deadline", value=report.deadline))
        if report.lead_name:
            facts.append(Fact(title="Lead", value=escape_markdown(report.lead_name, one_line=True)))
        body.append(Container(separator=True, spacing="Medium", items=[
            _heading(f"{report.reference}: {ROUTING[report.category].title}", color="Attention" if urgent else None),
            FactSet(facts=facts),
            ActionSet(actions=[_execute("View details", Verb.VIEW, {"incident": report.incident_id})]),
        ]))
    return AdaptiveCard(fallback_text=f"Open reports: {waiting}", body=body)


def cancelled_form_card() -> AdaptiveCard:
    """What replaces a report form sent (or a step of it answered) after its sender typed ``cancel``."""
    return AdaptiveCard(
        fallback_text="This report was cancelled: nothing was sent",
        body=[_heading("This report was cancelled"),
              _para("You typed **cancel**, so this form can no longer send the report. Nothing was sent or kept."),
              _para("Type **report** to start a new one.", is_subtle=True)],
    )
