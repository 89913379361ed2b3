"""Cards of new school social media accounts: the business case form, the register, hand-over alerts.

- `account_form_card`: the business case (policy, "Process for creating new accounts"), with what to fix
  under each field when a check failed and the values kept. Buttons: *Send to the Head Teacher* (verb
  `account_submit`), *Save draft* (`account_save_draft`), *Discard draft* (`account_discard_draft`), each an
  `Action.Execute` with an `Action.Submit` fallback. Runners are chosen by typing a name: the slot's typeahead
  (`choices.data`, dataset `policybot.staff`) asks the bot (`application/search`, answered from the school's
  directory: Graph, or the staff file), and the static choices list the staff the bot can name (a staff file's
  people, role holders, people who use the bot, and whoever is chosen). Each slot says who is chosen in it, by
  name; the server resolves every chosen id through the directory again when the form is sent. Inputs are not
  marked required on the client, so a half-finished form can be saved as a draft; the server checks everything.
  What the three buttons send back is `AccountFormButton`, validated by the router before the accounts service runs.
- `account_summary`: the approval mechanism's `RequestSummary` for a business case.
- `account_register_card`: `accounts`; `handover_alert_card`: an account with fewer than two
  administrators still at the school, for SLT.

The form says, and the code keeps to it: the bot never asks for or stores a password.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from cards.approvals import ButtonStyle, RequestId, RequestSummary, digits_as_number, when
from cards.base import (
    ActionExecute,
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
from domain.accounts import (
    FIELD_TITLES,
    MAX_RUNNERS,
    MIN_RUNNERS,
    PLATFORM_TITLES,
    Q_BUSINESS_CASE,
    Q_MONITORING,
    Q_TRAINING,
    Q_TWO_STAFF,
    TEXT_LIMITS,
    VISIBILITY_TITLES,
    AccountCase,
    Administrator,
    FormField,
    HandoverCheck,
    RegisteredAccount,
    Training,
    form_values,
    runner_field,
)
from domain.calendar import SchoolCalendar

ACCOUNT_SUBMIT_VERB = "account_submit"
ACCOUNT_SAVE_DRAFT_VERB = "account_save_draft"
ACCOUNT_DISCARD_DRAFT_VERB = "account_discard_draft"
STAFF_DATASET = "policybot.staff"  # the bot's own typeahead: Teams sends `application/search` with this dataset
STAFF_SEARCH = {"type": "Data.Query", "dataset": STAFF_DATASET, "count": 10}
SEARCH_INVOKE = "application/search"
MAX_SEARCH_TEXT = 100  # what a typeahead search may send; longer text is cut (a name is shorter)
NO_PASSWORDS = (
    "Never type a password here. The bot does not ask for or keep passwords: the account's administrators "
    "store the login details securely, as the policy asks."
)
FORM_TITLE = "Propose a school social media account"
RECORDS_LINE = ("Reading the policy and training are taken from the school's records, not asked here: SLT record "
                "training by typing \u201ctraining <person> <date> <what>\u201d.")
FORM_ID_PATTERN = r"^[0-9a-f]{32}$"  # a form's id (uuid4 hex): names the sender's own form, nothing else
MAX_INPUT_SENT = 20_000  # characters in one of the form's inputs; the check answers "too long" per field below this


class AccountFormButton(BaseModel):
    """What the form's buttons send (verbs `account_submit`, `account_save_draft`, `account_discard_draft`).

    Attributes:
        form_id: the form's id (every form the bot sends has one): sending the same form twice makes one request.
        request_id: the request being changed ("Resend to the Head Teacher"); None for a new proposal.
        values: the form's own inputs as text (``domain.accounts.form_values``): what the check reads and a
            draft keeps. Other data the card carries is ignored.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    form_id: str = Field(pattern=FORM_ID_PATTERN)
    request_id: Annotated[RequestId | None, BeforeValidator(digits_as_number)] = None
    values: dict[str, Annotated[str, Field(max_length=MAX_INPUT_SENT)]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _the_forms_inputs(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {**data, "values": form_values(data)}
        return data


def _execute(title: str, verb: str, data: Mapping[str, object], style: ButtonStyle | None = None) -> ActionExecute:
    return ActionExecute.with_fallback(title, verb, data, style=style)


def _error(errors: Mapping[str, str], name: str) -> list[Element]:
    message = errors.get(name)
    if not message:
        return []
    return [TextBlock(text=escape_markdown(message), color="Attention", size="Small", spacing="None")]


def _text_input(name: FormField, values: Mapping[str, str], errors: Mapping[str, str], *, label: str | None = None,
                multiline: bool = False, placeholder: str | None = None) -> list[Element]:
    return [
        InputText(
            id=name.value, label=label or FIELD_TITLES[name], value=values.get(name.value) or None,
            is_multiline=multiline or None, max_length=TEXT_LIMITS[name], placeholder=placeholder,
        ),
        *_error(errors, name.value),
    ]


NOT_ON_STAFF_LIST = "Not on the staff list"


def _people_choices(people: Sequence[tuple[str, str]], chosen: Sequence[str]) -> list[Choice]:
    """The staff the bot can name (the directory's, and whoever was chosen, by name); a chosen value the server
    could not resolve keeps its place under a title saying so (its slot shows why underneath)."""
    known = {aad.lower(): (aad, name) for aad, name in people}
    choices = [Choice(title=name, value=aad) for aad, name in sorted(known.values(), key=lambda p: p[1].lower())]
    for aad in dict.fromkeys(chosen):
        if aad and aad.lower() not in known:
            choices.append(Choice(title=NOT_ON_STAFF_LIST, value=aad))
    return choices


def search_response(people: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The answer to Teams' `application/search` invoke (the runner slots' typeahead): (Entra object id, name)."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.search.searchResponse",
            "value": {"results": [{"title": name, "value": aad} for aad, name in people]}}


class StaffSearch(BaseModel):
    """What the typeahead sends (`application/search`): the text typed; Teams names it ``queryText``, the Adaptive
    Cards data query ``filter``. Anything else is ignored; a dataset other than the bot's gets no results."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    dataset: str = ""
    query_text: str = Field(default="", alias="queryText")
    filter: str = ""

    @property
    def text(self) -> str:
        typed = self.query_text or self.filter
        return typed[:MAX_SEARCH_TEXT] if self.dataset == STAFF_DATASET else ""


def account_form_card(
    values: Mapping[str, str],
    people: Sequence[tuple[str, str]],
    *,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
    draft_saved_at: datetime | None = None,
    calendar: SchoolCalendar,
    changing: tuple[int, str, str | None] | None = None,
    form_id: str = "",
) -> AdaptiveCard:
    """The business case form.

    Args:
        values: the inputs' values to show (a draft, what was typed, or the case being changed).
        people: (Entra object id, name) of the staff the bot knows: the static choices for runners.
        errors: input id → what to fix.
        notice: a line at the top (e.g. "Draft saved").
        draft_saved_at: when the draft being resumed was saved (offers Discard draft).
        calendar: the school calendar (the draft's time is shown on the school's clock).
        changing: (request id, reference, comment asked for) when the requester changes a request sent back.
        form_id: names this form, so sending it twice (a double click) makes one request.
    """
    errors = errors or {}
    chosen = [values.get(runner_field(slot), "") for slot in range(1, MAX_RUNNERS + 1)]
    choices = _people_choices(people, chosen)
    body: list[Element] = [
        TextBlock(
            text=FORM_TITLE if changing is None else f"Change request {escape_markdown(changing[1], one_line=True)}",
            size="Large", weight="Bolder", style="heading",
        ),
        TextBlock(text=(
            f"The policy: \u201c{Q_BUSINESS_CASE.text}\u201d. Fill in every field; the Head Teacher decides, and "
            "SLT see the request."
        ), is_subtle=True, spacing="None"),
        Container(style="warning", items=[TextBlock(text=NO_PASSWORDS, size="Small", weight="Bolder")]),
    ]
    if changing is not None and changing[2]:
        body.append(Container(style="emphasis", items=[
            TextBlock(text="Changes asked for", weight="Bolder"),
            TextBlock(text=escape_markdown(changing[2]), spacing="None"),
        ]))
    if notice:
        body.append(TextBlock(text=escape_markdown(notice), color="Accent", weight="Bolder"))
    if draft_saved_at is not None:
        body.append(TextBlock(text=f"Carrying on from your draft saved {when(draft_saved_at, calendar)}.",
                              is_subtle=True))
    if errors:
        count = len(errors)
        body.append(Container(style="attention", items=[
            TextBlock(text=f"Please fix {count} thing{'s' if count != 1 else ''} below, then send again.",
                      weight="Bolder", color="Attention"),
        ]))
    body += [
        InputChoiceSet(
            id=FormField.PLATFORM.value, label=FIELD_TITLES[FormField.PLATFORM], value=values.get("platform") or None,
            placeholder="Choose a platform",
            choices=[Choice(title=title, value=platform.value) for platform, title in PLATFORM_TITLES.items()],
        ),
        *_error(errors, FormField.PLATFORM.value),
        *_text_input(FormField.PLATFORM_OTHER, values, errors, label="If another platform, which one"),
        *_text_input(FormField.ACCOUNT_NAME, values, errors, placeholder="e.g. Holy Trinity Year 6"),
        *_text_input(FormField.AIM, values, errors, multiline=True, placeholder="What is the account for?"),
        *_text_input(FormField.AUDIENCE, values, errors, multiline=True, placeholder="e.g. parents of Year 6"),
        *_text_input(FormField.PROMOTION, values, errors, multiline=True,
                     placeholder="e.g. newsletter, website, letters home"),
        InputChoiceSet(
            id=FormField.VISIBILITY.value, label=FIELD_TITLES[FormField.VISIBILITY], style="expanded",
            value=values.get(FormField.VISIBILITY.value) or None,
            choices=[Choice(title=title, value=v.value) for v, title in VISIBILITY_TITLES.items()],
        ),
        *_error(errors, FormField.VISIBILITY.value),
        Container(separator=True, spacing="Medium", items=[
            TextBlock(text=f"Who will run it (at least {MIN_RUNNERS} different members of staff)", weight="Bolder"),
            TextBlock(text=f"The policy: \u201c{Q_TWO_STAFF.text}\u201d \u201c{Q_TRAINING.text}\u201d",
                      is_subtle=True, size="Small", spacing="None"),
            TextBlock(text=escape_markdown(RECORDS_LINE), size="Small", spacing="Small"),
        ]),
        *_error(errors, FormField.RUNNERS.value),
    ]
    names = {choice.value.lower(): choice.title for choice in choices}
    for slot in range(1, MAX_RUNNERS + 1):
        optional = "" if slot <= MIN_RUNNERS else " (optional)"
        chosen_value = values.get(runner_field(slot)) or ""
        # Every client shows who is chosen (a people picker may not display a preset value).
        chosen_name = names.get(chosen_value.lower(), NOT_ON_STAFF_LIST)
        chosen_line: list[Element] = [TextBlock(
            text=f"Chosen: {escape_markdown(chosen_name, one_line=True)}",
            size="Small", is_subtle=True, spacing="None",
        )] if chosen_value and chosen_name != NOT_ON_STAFF_LIST else []
        body += [
            InputChoiceSet(
                id=runner_field(slot), label=f"Runner {slot}{optional}", value=chosen_value or None,
                placeholder="Type a name", choices=choices, style="filtered",
                # An empty slot searches the staff list as the person types; a slot holding someone offers the
                # listed choices only, so every client shows that person's name in it (a search box with a value
                # shows the raw id in some clients).
                choices_data=None if chosen_value else STAFF_SEARCH,
            ),
            *chosen_line,
            *_error(errors, runner_field(slot)),
        ]
    body += [
        Container(separator=True, spacing="Medium", items=[
            TextBlock(text="Monitoring", weight="Bolder"),
            TextBlock(text=f"The policy: \u201c{Q_MONITORING.text}\u201d", is_subtle=True, size="Small",
                      spacing="None"),
        ]),
        *_text_input(FormField.MONITORING_PLAN, values, errors, multiline=True,
                     placeholder="Who checks it, how often, and what they do about comments"),
        *_text_input(FormField.HOLIDAY_MONITORING, values, errors, multiline=True,
                     placeholder="Who checks it during the school holidays"),
    ]
    data: dict[str, object] = {"form_id": form_id} if form_id else {}
    if changing is not None:
        data["request_id"] = changing[0]
    send_title = "Send to the Head Teacher" if changing is None else "Resend to the Head Teacher"
    actions = [
        _execute(send_title, ACCOUNT_SUBMIT_VERB, data, "positive"),
        _execute("Save draft", ACCOUNT_SAVE_DRAFT_VERB, data),
    ]
    if draft_saved_at is not None or notice:
        actions.append(_execute("Discard draft", ACCOUNT_DISCARD_DRAFT_VERB, data, "destructive"))
    return AdaptiveCard(fallback_text="A form to propose a new school social media account.", body=body,
                        actions=list(actions))


def account_summary(case: AccountCase) -> RequestSummary:
    """The business case as the approval cards show it: each runner's standing (policy read, training) from the
    school's records when it was sent, in the short summary and in the details; a case sent before the records were
    used shows the applicant's answer, saying so."""
    notes = []
    untrained = ", ".join(" ".join(runner.name.split()) for runner in case.needs_training)  # a name: one line
    if untrained and case.from_records:
        notes.append(f"No social media training recorded for {untrained} when this was sent: approving is training "
                     f"to follow, and SLT are reminded until it is recorded. The policy: \u201c{Q_TRAINING.text}\u201d")
    elif untrained:
        notes.append(f"Training requested for {untrained}. The policy: \u201c{Q_TRAINING.text}\u201d")
    short = [("Platform", case.platform_title), ("Account", case.account_name), ("Purpose", case.aim)]
    short += [(f"{runner.name} (runner)", runner.standing_text(short=True)) for runner in case.runners]
    return RequestSummary(title=case.title(), facts=case.facts(), slt_facts=case.slt_facts(), notes=tuple(notes),
                          short_facts=tuple(short))


def form_closed_card(message: str) -> AdaptiveCard:
    """What replaces the form when it has been sent or discarded."""
    return AdaptiveCard(fallback_text=message, body=[TextBlock(text=escape_markdown(message))])


def _account_title(account: RegisteredAccount) -> str:
    return (f"**{escape_markdown(account.platform, one_line=True)}: "
            f"{escape_markdown(account.account_name, one_line=True)}**")


def _names(administrators: Sequence[Administrator]) -> str:
    return ", ".join(escape_markdown(admin.name, one_line=True) for admin in administrators)


def account_register_card(checks: Sequence[HandoverCheck], *, show_handover: bool,
                          calendar: SchoolCalendar) -> AdaptiveCard:
    """`accounts`: the register of approved school accounts and their administrators.

    Args:
        show_handover: SLT and the Head Teacher see which accounts need a hand-over (fewer than two
            administrators still at the school); others see the register only.
    """
    body: list[Element] = [
        TextBlock(text="School social media accounts", size="Large", weight="Bolder", style="heading"),
        TextBlock(text="Approved by the Head Teacher. The register keeps no passwords.", is_subtle=True,
                  spacing="None"),
    ]
    if not checks:
        body.append(TextBlock(text="No accounts have been approved through the bot yet."))
    flagged = [check for check in checks if check.needs_handover and check.account.closure is None] \
        if show_handover else []  # a closed or transferred account needs no hand-over
    if flagged:
        body.append(Container(style="attention", items=[TextBlock(
            text=(f"{len(flagged)} account{'s' if len(flagged) != 1 else ''} need{'s' if len(flagged) == 1 else ''} "
                  "a hand-over: fewer than two administrators are still at the school."),
            weight="Bolder",
        )]))
    for check in checks:
        account = check.account
        if account.closure is not None:
            continue  # listed after the open ones
        admins = ", ".join(
            escape_markdown(admin.name, one_line=True)
            + (" (training to follow)" if admin.training is Training.REQUESTED else "")
            for admin in account.administrators
        )
        items: list[Element] = [
            TextBlock(text=_account_title(account)),
            FactSet(facts=[
                Fact(title="Administrators", value=admins or "none"),
                Fact(title="Audience", value=escape_markdown(account.audience)),
                Fact(title="Open or private", value=VISIBILITY_TITLES[account.visibility]),
                Fact(title="Approved", value=f"{when(account.approved_at, calendar)} ({account.approval_reference})"),
            ]),
        ]
        if show_handover and check.needs_handover:
            gone = _names(check.gone) or "none"
            items.append(TextBlock(
                text=f"Needs a hand-over: no longer at the school: {gone}. Name another administrator or close the "
                     "account.", color="Attention", weight="Bolder",
            ))
        elif show_handover and check.unknown:
            items.append(TextBlock(text="Could not check the administrators against the directory just now.",
                                   is_subtle=True, size="Small"))
        body.append(Container(separator=True, spacing="Medium", items=items))
    ended = [check.account for check in checks if check.account.closure is not None]
    if ended:
        body.append(TextBlock(text="Closed or transferred", weight="Bolder", separator=True, spacing="Large"))
    for account in ended:
        closure = account.closure
        assert closure is not None
        how = "Closed" if closure.how == "closed" else \
            f"Transferred to {escape_markdown(closure.transferred_to or '', one_line=True)}"
        body.append(Container(separator=True, spacing="Small", items=[
            TextBlock(text=f"{_account_title(account)}: {how.lower() if closure.how == 'closed' else how}",
                      is_subtle=True),
            FactSet(facts=[
                Fact(title=how.split(' to ')[0], value=f"{closure.closed_on:%d %b %Y} (recorded by "
                     f"{escape_markdown(closure.recorded_by_name, one_line=True)})"),
                Fact(title="Why", value=escape_markdown(closure.reason)),
                Fact(title="Approved", value=f"{when(account.approved_at, calendar)} ({account.approval_reference})"),
            ]),
        ]))
    return AdaptiveCard(fallback_text="The register of school social media accounts.", body=body)


def handover_alert_card(check: HandoverCheck) -> AdaptiveCard:
    """For SLT: an account whose administrators have left (the policy's hand-over rule)."""
    account = check.account
    present = _names(check.present) or "nobody"
    return AdaptiveCard(
        fallback_text=f"{account.platform}: {account.account_name} needs a hand-over.",
        body=[
            TextBlock(text="A school account needs a hand-over", size="Medium", weight="Bolder", color="Attention"),
            TextBlock(text=f"{_account_title(account)} ({account.approval_reference})"),
            FactSet(facts=[
                Fact(title="Administrators still at the school", value=present),
                Fact(title="Administrators who have left", value=_names(check.gone)),
            ]),
            TextBlock(text=(
                "The policy asks administrators to \u201cControl the process for managing an account after the lead "
                "staff member has left the organisation (closing or transferring).\u201d and at least two staff to "
                "run each account. Name another administrator, or close the account."
            ), is_subtle=True),
        ],
    )
