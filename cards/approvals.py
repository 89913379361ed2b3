"""Cards of the approval mechanism, the same for every kind of approval.

A kind (a new account, a personal-device photo) gives its content as a `RequestSummary`; these cards add
the state, the people, the history and the buttons:

- `decider_card`: what the Head Teacher (or the acting deputy) decides on: Approve, Reject (a reason is
  required), Ask for changes (a comment is required), as `Action.Execute` (verb `approval_decide`) with an
  `Action.Submit` fallback, and a `refresh` (verb `approval_refresh`) for the deciders' Teams ids so
  deciders see buttons and anyone else sees the status.
- `status_card`: the request as it stands, for anyone (no decision buttons); the requester's copy offers
  Withdraw while pending, and "Change and resend" after changes were requested.
- `slt_card`: SLT's view (the SLT channel, a member of SLT's refresh): the kind's minimal facts and the state,
  no other personal data; `refused_view_card`: for anyone who may see nothing of a request.
- `outcome_card`: tells the requester the decision.
- `my_requests_card`, `delegation_card`, `delegation_summary_card`, `reminder` via `decider_card(banner=...)`.

Button data carries the request id and the round the card shows; the server checks both, and who is
acting, on every click. What the buttons send back is typed here, beside the cards: `RequestButton` (Refresh,
Withdraw, Change and resend) and `DecisionButton` (Approve, Reject, Ask for changes); the router validates
a click's data against them before the approval desk runs. All user text goes through `escape_markdown`.
Times are shown on the school's clock: every card that shows one takes the school calendar
(`domain.calendar.SchoolCalendar`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, field_validator

from cards.base import (
    MAX_REFRESH_USERS,
    ActionExecute,
    ActionShowCard,
    AdaptiveCard,
    Container,
    Element,
    Fact,
    FactSet,
    InputText,
    Refresh,
    TextBlock,
    escape_markdown,
)
from cards.retention import hold_marker
from domain.approvals import (
    DECIDER_ACTIONS,
    KIND_TITLES,
    MAX_COMMENT_LENGTH,
    STATE_TITLES,
    ApprovalAction,
    ApprovalRecord,
    ApprovalState,
    Capacity,
    Delegation,
    long_date,
)
from domain.calendar import SchoolCalendar

APPROVAL_DECIDE_VERB = "approval_decide"
APPROVAL_REFRESH_VERB = "approval_refresh"
APPROVAL_WITHDRAW_VERB = "approval_withdraw"
APPROVAL_EDIT_VERB = "approval_edit"  # the requester changes a request after changes were asked for
COMMENT_INPUT = "comment"

ButtonStyle = Literal["default", "positive", "destructive"]

MAX_REQUEST_ID = 2**31 - 1  # request ids are the database's integer keys
MAX_ROUND = 1_000  # how often one request can have been changed and sent again, generously
MAX_COMMENT_SENT = 20 * MAX_COMMENT_LENGTH  # the box allows MAX_COMMENT_LENGTH; up to this is answered "too long"


# --- what the buttons send back (each verb's payload; the router validates it before the desk runs) -------


def digits_as_number(value: object) -> object:
    """A number sent as text (digits only, as some clients send Action.Submit data) is read as the number;
    anything else is left for the field's type to accept or refuse."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())  # more than 4,300 digits raise ValueError: refused as not valid
    return value


def _text_names_no_request(value: object) -> object:
    """Text that is not a number names no request (None): the desk answers "I can't find that request" and
    records the attempt, as for an id that does not exist."""
    value = digits_as_number(value)
    return None if isinstance(value, str) else value


RequestId = Annotated[int, Strict(), Field(ge=1, le=MAX_REQUEST_ID)]  # Strict: no booleans, no fractions
CardRound = Annotated[int, Strict(), Field(ge=1, le=MAX_ROUND)]


class RequestButton(BaseModel):
    """A button on a request's card: which request, and the round the card shows (verbs `approval_refresh`,
    `approval_withdraw`, `approval_edit`; a kind's own buttons on its requests send the same).

    A request id that is missing, or text that is not a number, names no request: the desk answers "I can't
    find that request" and records the attempt. A boolean, a fraction, a negative or huge number, or another
    type is not valid data: refused before the desk runs. The card's input values ride along and are ignored.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: Annotated[RequestId | None, BeforeValidator(_text_names_no_request)] = None
    round: Annotated[CardRound | None, BeforeValidator(digits_as_number)] = None


class DecisionButton(RequestButton):
    """Approve, Reject or Ask for changes (verb `approval_decide`), with the comment box's text.

    The round the card showed is required: a decision that names none is refused before the desk runs ("out of
    date", nothing changed), and the desk checks it against the request's round. The decision is optional here so
    that a button naming no request is answered "I can't find that request" first; the desk answers a found
    request's button without one as out of date.
    """

    round: Annotated[CardRound, BeforeValidator(digits_as_number)]
    decision: ApprovalAction | None = None
    comment: str = Field(default="", max_length=MAX_COMMENT_SENT)
    confirmed: bool = False  # issue 17: "Approve anyway: training to follow" (the kind asked to confirm first)

    @field_validator("decision")
    @classmethod
    def _a_decision(cls, value: ApprovalAction | None) -> ApprovalAction | None:
        if value is not None and value not in DECIDER_ACTIONS:
            raise ValueError("not a decision a decider's button sends")
        return value

    @field_validator("comment", mode="before")
    @classmethod
    def _blank_comment(cls, value: Any) -> Any:
        return "" if value is None else value

DECISION_TITLES: dict[ApprovalAction, str] = {
    ApprovalAction.APPROVE: "Approve",
    ApprovalAction.REJECT: "Reject",
    ApprovalAction.REQUEST_CHANGES: "Ask for changes",
}

_STATE_COLOURS = {
    ApprovalState.PENDING: "Warning",
    ApprovalState.APPROVED: "Good",
    ApprovalState.REJECTED: "Attention",
    ApprovalState.CHANGES_REQUESTED: "Warning",
    ApprovalState.WITHDRAWN: "Default",
}


@dataclass(frozen=True)
class RequestSummary:
    """What a kind of approval shows about one request.

    Attributes:
        short_facts: the few lines a decider reads first, before the buttons (a phone shows little more); the
            rest is under "Show details". None: the card shows every fact and note (a kind whose every line
            matters to the decision).
    """

    title: str  # e.g. "Facebook: Year 6 News"
    facts: Sequence[tuple[str, str]]  # everything the decider needs
    slt_facts: Sequence[tuple[str, str]]  # what the SLT channel may see
    notes: Sequence[str] = field(default_factory=tuple)  # e.g. training requested, policy quotes (plain text)
    short_facts: Sequence[tuple[str, str]] | None = None

    @property
    def has_details(self) -> bool:
        """Whether the cards show a short summary first and the rest on request (else everything, as before)."""
        return self.short_facts is not None


SHORT_LINE = 90  # characters of a value in the short summary; the whole of it is under "Show details"
DETAILS_TITLE = "Show details"


def one_line(text: str, limit: int = SHORT_LINE) -> str:
    """The first line of ``text``, cut to ``limit`` characters with an ellipsis (the short summary)."""
    first = " ".join(text.split())
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "\u2026"


def when(moment: datetime | None, calendar: SchoolCalendar) -> str:
    """A time as the school reads it, e.g. "Tue 24 Nov 2026, 10:03" ("" for none)."""
    return "" if moment is None else calendar.card_time(moment)


def _facts(pairs: Sequence[tuple[str, str]]) -> FactSet:
    return FactSet(facts=[Fact(title=title, value=escape_markdown(value)) for title, value in pairs])


def _stacked(pairs: Sequence[tuple[str, str]], *, short: bool = False) -> Container:
    """Label and value one under the other, wrapped (a phone's width squeezes two columns): the short summary
    (``short``: one line per value, the label in bold before it) or the details."""
    items: list[Element] = []
    for title, value in pairs:
        if short:
            items.append(TextBlock(text=f"**{escape_markdown(title, one_line=True)}:** "
                                        f"{escape_markdown(one_line(value), one_line=True)}", spacing="None"))
        else:
            items += [TextBlock(text=escape_markdown(title, one_line=True), weight="Bolder", size="Small",
                                spacing="Small"),
                      TextBlock(text=escape_markdown(value, one_line=True), spacing="None")]  # wraps; a name
            # typed with a line break cannot start a line of its own (a forged line)
    return Container(items=items, spacing="Small")


def _summary_block(summary: RequestSummary) -> list[Element]:
    """What the card shows of the request's content: the short summary, or (a kind without one) everything."""
    if summary.short_facts is not None:
        return [_stacked(summary.short_facts, short=True)]
    return [_stacked(summary.facts), *_notes(summary)]


def _details_actions(summary: RequestSummary) -> list[ActionShowCard]:
    return [_details(summary)] if summary.has_details else []


def _details(summary: RequestSummary) -> ActionShowCard:
    """Everything the request says, opened on request (the card itself shows the short summary)."""
    return ActionShowCard(title=DETAILS_TITLE, card=AdaptiveCard(
        fallback_text="The whole request.", body=[_stacked(summary.facts), *_notes(summary)]))


def _changed_line(request: ApprovalRecord) -> list[Element]:
    """What this version changed since the one before (a resubmitted request)."""
    if request.round < 2 or not request.changed:
        return []
    return [TextBlock(text=f"Changed since version {request.round - 1}: "
                           f"{escape_markdown(', '.join(request.changed), one_line=True)}",
                      weight="Bolder", spacing="Small")]


def _refresh(request: ApprovalRecord, user_ids: Sequence[str]) -> Refresh | None:
    ids = [uid for uid in dict.fromkeys(user_ids) if uid][:MAX_REFRESH_USERS]
    if not ids:
        return None
    return Refresh(
        action=ActionExecute(title="Refresh", verb=APPROVAL_REFRESH_VERB, data={"request_id": request.id}),
        user_ids=ids,
    )


def _execute(title: str, verb: str, data: Mapping[str, object], style: ButtonStyle | None = None) -> ActionExecute:
    """An Action.Execute with the same Action.Submit for clients without Universal Actions."""
    return ActionExecute.with_fallback(title, verb, data, style=style)


def _header(request: ApprovalRecord, summary: RequestSummary, calendar: SchoolCalendar) -> list[Element]:
    items: list[Element] = [hold_marker()] if request.legal_hold else []
    items += [
        TextBlock(text=f"{KIND_TITLES[request.kind]} · {request.reference}", size="Small", is_subtle=True),
        TextBlock(text=escape_markdown(summary.title, one_line=True), size="Large", weight="Bolder",
                  style="heading", spacing="None"),
        TextBlock(
            text=f"Asked by {escape_markdown(request.requester_name, one_line=True)} on "
            f"{when(request.created_at, calendar)}"
            + (f" · changed and sent again (version {request.round})" if request.round > 1 else ""),
            is_subtle=True, spacing="None",
        ),
    ]
    return items


def _state_block(request: ApprovalRecord, calendar: SchoolCalendar, *, show_names: bool = True) -> Container:
    lines: list[Element] = [
        TextBlock(text=f"Status: {STATE_TITLES[request.state]}", weight="Bolder",
                  color=_STATE_COLOURS[request.state]),
    ]
    if request.decided_at and request.state in (
        ApprovalState.APPROVED, ApprovalState.REJECTED, ApprovalState.CHANGES_REQUESTED
    ):
        if show_names and request.decided_by_name:
            acting = " (acting for the Head Teacher)" if request.decided_as is Capacity.ACTING_DEPUTY else ""
            by = escape_markdown(request.decided_by_name, one_line=True)
            lines.append(TextBlock(text=f"By {by}{acting} on {when(request.decided_at, calendar)}", spacing="None"))
        else:
            lines.append(TextBlock(text=f"On {when(request.decided_at, calendar)}", spacing="None"))
        if show_names and request.decision_comment:
            label = {ApprovalState.REJECTED: "Reason", ApprovalState.CHANGES_REQUESTED: "Changes asked for"}.get(
                request.state, "Comment")
            lines.append(TextBlock(text=f"{label}: {escape_markdown(request.decision_comment)}"))
    return Container(style="emphasis", spacing="Medium", items=lines)


def _notes(summary: RequestSummary) -> list[Element]:
    return [TextBlock(text=escape_markdown(note), size="Small", is_subtle=True) for note in summary.notes]


def decider_card(
    request: ApprovalRecord,
    summary: RequestSummary,
    *,
    calendar: SchoolCalendar,
    refresh_user_ids: Sequence[str] = (),
    acting_for: str | None = None,
    banner: str | None = None,
    error: str | None = None,
    comment: str = "",
) -> AdaptiveCard:
    """The request with the decision buttons (for the Head Teacher or the acting deputy)."""
    body: list[Element] = []
    if banner:
        body.append(Container(style="warning", items=[TextBlock(text=escape_markdown(banner), weight="Bolder")]))
    body += _header(request, summary, calendar)
    if acting_for:
        body.append(TextBlock(
            text=f"You are deciding for {escape_markdown(acting_for, one_line=True)}, the Head Teacher, while they "
                 "are away.",
            color="Accent",
        ))
    body += [*_changed_line(request), *_summary_block(summary)]
    if error:
        body.append(Container(style="attention", items=[TextBlock(text=escape_markdown(error), weight="Bolder")]))
    body.append(InputText(
        id=COMMENT_INPUT, label="Reason or comment (needed to reject or to ask for changes)", is_multiline=True,
        max_length=MAX_COMMENT_LENGTH, value=comment or None,
        placeholder="e.g. what should change, or why it cannot go ahead",
    ))
    data = {"request_id": request.id, "round": request.round}
    return AdaptiveCard(
        fallback_text=f"{KIND_TITLES[request.kind]} {request.reference} is waiting for your decision.",
        body=body,
        actions=[
            _execute(DECISION_TITLES[ApprovalAction.APPROVE], APPROVAL_DECIDE_VERB,
                     {**data, "decision": ApprovalAction.APPROVE.value}, "positive"),
            _execute(DECISION_TITLES[ApprovalAction.REJECT], APPROVAL_DECIDE_VERB,
                     {**data, "decision": ApprovalAction.REJECT.value}, "destructive"),
            _execute(DECISION_TITLES[ApprovalAction.REQUEST_CHANGES], APPROVAL_DECIDE_VERB,
                     {**data, "decision": ApprovalAction.REQUEST_CHANGES.value}),
            *_details_actions(summary),
        ],
        refresh=_refresh(request, refresh_user_ids),
    )


def status_card(
    request: ApprovalRecord,
    summary: RequestSummary,
    *,
    calendar: SchoolCalendar,
    for_requester: bool = False,
    notice: str | None = None,
    refresh_user_ids: Sequence[str] = (),
) -> AdaptiveCard:
    """The request as it stands, without decision buttons.

    Args:
        for_requester: the requester's own copy: Withdraw while it waits, Change and resend after changes
            were asked for.
        notice: a line at the top (e.g. "Sent to the Head Teacher", "Already decided").
    """
    body: list[Element] = []
    if notice:
        body.append(TextBlock(text=escape_markdown(notice), weight="Bolder", color="Accent"))
    body += _header(request, summary, calendar)
    body += [*_changed_line(request), _state_block(request, calendar), *_summary_block(summary)]
    actions: list[ActionExecute | ActionShowCard] = []
    data = {"request_id": request.id, "round": request.round}
    if for_requester and request.state is ApprovalState.CHANGES_REQUESTED:
        actions.append(_execute("Change and resend", APPROVAL_EDIT_VERB, data, "positive"))
    if for_requester and request.state in (ApprovalState.PENDING, ApprovalState.CHANGES_REQUESTED):
        actions.append(_execute("Withdraw", APPROVAL_WITHDRAW_VERB, data, "destructive"))
    actions += _details_actions(summary)
    return AdaptiveCard(
        fallback_text=f"{KIND_TITLES[request.kind]} {request.reference}: {STATE_TITLES[request.state]}.",
        body=body,
        actions=list(actions) or None,
        refresh=_refresh(request, refresh_user_ids),
    )


def superseded_card(request: ApprovalRecord, summary: RequestSummary, *, calendar: SchoolCalendar,
                    version: int, notice: str | None = None) -> AdaptiveCard:
    """A copy of an earlier version of a request that was changed and sent again: replaced, with no buttons.

    Args:
        version: the version this copy showed; ``request`` is the request as it stands now.
        notice: a line at the top (e.g. why a click on it changed nothing).
    """
    body: list[Element] = [TextBlock(text=escape_markdown(notice), weight="Bolder")] if notice else []
    body += [
        TextBlock(text=f"{KIND_TITLES[request.kind]} · {request.reference} · version {version}", size="Small",
                  is_subtle=True),
        TextBlock(text=escape_markdown(summary.title, one_line=True), size="Medium", weight="Bolder",
                  spacing="None"),
        Container(style="emphasis", spacing="Medium", items=[
            TextBlock(text=f"Replaced by version {request.round}", weight="Bolder"),
            TextBlock(text=f"The current version is in a newer message. Status now: {STATE_TITLES[request.state]}.",
                      spacing="None"),
        ]),
    ]
    return AdaptiveCard(fallback_text=f"{request.reference}: replaced by version {request.round}.", body=body)


def slt_card(request: ApprovalRecord, summary: RequestSummary, *, calendar: SchoolCalendar,
             notice: str | None = None) -> AdaptiveCard:
    """SLT's view (the SLT channel's card, and a member of SLT's refresh): the kind's minimal facts and the state;
    nobody's name but the kind allows, no decider's name or comment.

    Args:
        notice: a line at the top (e.g. why a member of SLT's click changed nothing).
    """
    return AdaptiveCard(
        fallback_text=f"{KIND_TITLES[request.kind]} {request.reference}: {STATE_TITLES[request.state]}.",
        body=[
            *([TextBlock(text=escape_markdown(notice), weight="Bolder", color="Accent")] if notice else []),
            TextBlock(text=f"{KIND_TITLES[request.kind]} · {request.reference}", size="Small", is_subtle=True),
            TextBlock(text=escape_markdown(summary.title, one_line=True), size="Medium", weight="Bolder",
                      spacing="None"),
            TextBlock(text="For SLT to consider with the Head Teacher. Details are with the Head Teacher.",
                      is_subtle=True, spacing="None"),
            _facts(summary.slt_facts),
            _state_block(request, calendar, show_names=False),
        ],
    )


def refused_view_card(reason: str) -> AdaptiveCard:
    """For someone who may see nothing of a request: why, and nothing of the request (not even its reference)."""
    return AdaptiveCard(
        fallback_text="You can't see this request.",
        body=[TextBlock(text=escape_markdown(reason), weight="Bolder")],
    )


_OUTCOME_LINES = {
    ApprovalState.APPROVED: "was approved",
    ApprovalState.REJECTED: "was not approved",
    ApprovalState.CHANGES_REQUESTED: "needs some changes before it can be decided",
    ApprovalState.WITHDRAWN: "was withdrawn",
}


def outcome_card(request: ApprovalRecord, summary: RequestSummary, next_steps: Sequence[str] = (), *,
                 calendar: SchoolCalendar) -> AdaptiveCard:
    """Tells the requester what was decided, with what to do next."""
    body: list[Element] = [
        TextBlock(
            text=f"Your request {request.reference} {_OUTCOME_LINES.get(request.state, 'changed')}",
            size="Medium", weight="Bolder", color=_STATE_COLOURS[request.state],
        ),
        TextBlock(text=escape_markdown(summary.title, one_line=True), spacing="None"),
        _state_block(request, calendar),
        *[TextBlock(text=escape_markdown(step)) for step in next_steps],
    ]
    actions: list[ActionExecute] = []
    data = {"request_id": request.id, "round": request.round}
    if request.state is ApprovalState.CHANGES_REQUESTED:
        actions = [_execute("Change and resend", APPROVAL_EDIT_VERB, data, "positive"),
                   _execute("Withdraw", APPROVAL_WITHDRAW_VERB, data, "destructive")]
    return AdaptiveCard(
        fallback_text=f"Your request {request.reference}: {STATE_TITLES[request.state]}.",
        body=body, actions=actions or None,
    )


def my_requests_card(rows: Sequence[tuple[ApprovalRecord, RequestSummary]], *, draft_saved: datetime | None,
                     calendar: SchoolCalendar) -> AdaptiveCard:
    """`my requests`: each request with its state; a note about an unfinished draft."""
    body: list[Element] = [TextBlock(text="Your requests", size="Large", weight="Bolder", style="heading")]
    if not rows:
        body.append(TextBlock(text="You have not sent any requests yet. Type **new account** to propose a school "
                                   "social media account."))
    for request, summary in rows:
        line = f"{STATE_TITLES[request.state]}"
        if request.decided_at and request.state is not ApprovalState.PENDING:
            line += f" on {when(request.decided_at, calendar)}"
            if request.decided_by_name:
                line += f" by {escape_markdown(request.decided_by_name, one_line=True)}"
        body.append(Container(separator=True, spacing="Medium", items=[
            TextBlock(text=f"**{request.reference}** · {escape_markdown(summary.title, one_line=True)}"),
            TextBlock(text=line, spacing="None", color=_STATE_COLOURS[request.state]),
            *([TextBlock(text=escape_markdown(request.decision_comment), spacing="None", is_subtle=True)]
              if request.decision_comment else []),
        ]))
    if draft_saved is not None:
        body.append(TextBlock(
            text=f"You also have an unfinished draft (saved {when(draft_saved, calendar)}): type **new account** to "
                 "carry on.",
            separator=True,
        ))
    return AdaptiveCard(fallback_text="Your requests and their status.", body=body)


def delegation_card(delegation: Delegation, *, pending: int, replaced: Delegation | None = None,
                    calendar: SchoolCalendar) -> AdaptiveCard:
    """Confirms a delegation to the Head Teacher."""
    body: list[Element] = [
        TextBlock(text="Approvals delegated", size="Medium", weight="Bolder"),
        TextBlock(text=(
            f"Until the end of {long_date(delegation.until_date(calendar))}, "
            f"{escape_markdown(delegation.deputy_name, one_line=True)} can decide approvals for you. New requests go "
            "to them, "
            f"and the {pending} request{'s' if pending != 1 else ''} waiting now "
            f"{'have' if pending != 1 else 'has'} been sent to them."
        )),
        TextBlock(text="You can still decide yourself. When the delegation ends I will tell you what was decided "
                       "while you were away. Type **end delegation** to end it early.", is_subtle=True),
    ]
    if replaced is not None:
        deputy = escape_markdown(replaced.deputy_name, one_line=True)
        body.append(TextBlock(text=f"This replaces your delegation to {deputy}.",
                              is_subtle=True))
    return AdaptiveCard(fallback_text="Approvals delegated.", body=body)


def delegation_notice_card(delegation: Delegation, *, calendar: SchoolCalendar) -> AdaptiveCard:
    """Tells the deputy they may now decide for the Head Teacher."""
    return AdaptiveCard(
        fallback_text="You can decide approvals for the Head Teacher.",
        body=[
            TextBlock(text="You are deciding approvals for the Head Teacher", size="Medium", weight="Bolder"),
            TextBlock(text=(
                f"{escape_markdown(delegation.head_name, one_line=True)} has asked you to decide approvals until the "
                "end of "
                f"{long_date(delegation.until_date(calendar))}. Requests waiting for a decision come to you here."
            )),
        ],
    )


def delegation_summary_card(delegation: Delegation, decided: Sequence[tuple[ApprovalRecord, RequestSummary]],
                            still_pending: int, *, calendar: SchoolCalendar) -> AdaptiveCard:
    """For the Head Teacher when a delegation ends: what was decided while they were away."""
    body: list[Element] = [
        TextBlock(text="Decided while you were away", size="Medium", weight="Bolder"),
        TextBlock(text=(
            f"Your delegation to {escape_markdown(delegation.deputy_name, one_line=True)} ended on "
            f"{when(delegation.effective_end, calendar)}."
        ), is_subtle=True, spacing="None"),
    ]
    if not decided:
        deputy = escape_markdown(delegation.deputy_name, one_line=True)
        body.append(TextBlock(text=f"{deputy} decided nothing in that time."))
    for request, summary in decided:
        body.append(Container(separator=True, items=[
            TextBlock(text=f"**{request.reference}** · {escape_markdown(summary.title, one_line=True)}"),
            TextBlock(text=f"{STATE_TITLES[request.state]} · {when(request.decided_at, calendar)}", spacing="None"),
            *([TextBlock(text=escape_markdown(request.decision_comment), is_subtle=True, spacing="None")]
              if request.decision_comment else []),
        ]))
    if still_pending:
        body.append(TextBlock(
            text=f"{still_pending} request{'s are' if still_pending != 1 else ' is'} waiting for your decision.",
            weight="Bolder", separator=True,
        ))
    return AdaptiveCard(fallback_text="Approvals decided while you were away.", body=body)
