"""Cards of the "can I post this photo?" check: the question, the choice of pupils, the verdict.

One function per card; each submit payload has its own model and verb:

- `photo_check_question_card(accounts)` → submit `PhotoCheckSubmit` (verb `photo_check_submit`);
  `PhotoCheckSubmit.to_request()` gives the domain's `PhotoCheckRequest`.
- `pupil_choice_card(verdict)` (when `verdict.needs_pupil_choice`) → submit `PhotoCheckChoiceSubmit` (verb
  `photo_check_choose_pupils`: the question's answers, carried in the button's data, and `PupilChoiceSubmit`'s
  choices); `domain.consent.with_choices(request.pupils, submit.choices())` then check again.
- `verdict_card(verdict)`: the answer. A "no" whose one reason is the personal device carries "Ask the Head
  Teacher for an exception" (an `Action.ShowCard` asking for the exceptional circumstances) whose submit is
  `DeviceExceptionSubmit` (verb `request_device_exception`) for the approval mechanism. A verdict decided
  with an authorised exception names it (`AuthorisedException`: reference and date).
- The exception request as stored (`DeviceExceptionCase`), its summary for the approval cards
  (`device_exception_summary`), the form to change it (`device_exception_edit_card`, verb
  `device_exception_resubmit`, `DeviceExceptionResubmit`) and the message after approval
  (`device_exception_approved_card`, verb `photo_check_exception_recheck`, `ExceptionButton`).

The router (`dialogs/photo_check.py` registers each verb with its model) validates a payload before the handler
runs: data of the wrong shape is answered as out of date and changes nothing. Nothing in a valid payload is
trusted either: the account is checked against the account register and a device
exception against the approvals, on the server. All pupil and user text is escaped for Markdown.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from cards.approvals import RequestButton, RequestSummary
from cards.base import (
    Action,
    ActionExecute,
    ActionSet,
    ActionShowCard,
    ActionSubmit,
    AdaptiveCard,
    Choice,
    Column,
    ColumnSet,
    Container,
    Element,
    Fact,
    FactSet,
    InputChoiceSet,
    InputText,
    InputToggle,
    TextBlock,
    escape_markdown,
)
from domain.accounts import Q_BUSINESS_CASE, Q_HEAD_APPROVES
from domain.consent import (
    DESTINATION_TITLES,
    Q_PERSONAL_PHONES,
    Q_PROCEDURE_3,
    Answer,
    Destination,
    DestinationKind,
    Device,
    MediaKind,
    PhotoCheckRequest,
    Pupil,
    PupilVerdict,
    Reason,
    ResolutionStatus,
    TypedPupil,
    Verdict,
    parse_pupil_names,
)

PHOTO_CHECK_SUBMIT_VERB = "photo_check_submit"
PHOTO_CHECK_CHOOSE_VERB = "photo_check_choose_pupils"
REQUEST_DEVICE_EXCEPTION_VERB = "request_device_exception"
DEVICE_EXCEPTION_RESUBMIT_VERB = "device_exception_resubmit"
EXCEPTION_RECHECK_VERB = "photo_check_exception_recheck"
CIRCUMSTANCES_INPUT = "circumstances"
MAX_CIRCUMSTANCES = 1_000  # what the Head Teacher reads: a paragraph, not an essay
MAX_CIRCUMSTANCES_SENT = 20 * MAX_CIRCUMSTANCES  # up to this the handler answers "too long"; more is not valid data

_ACCOUNT_PREFIX = "account:"
_NOT_LISTED = "not_listed"  # "none of these" on the choice card
_CHOICE_PREFIX = "choice_"  # choice_<position>: the pupil id chosen for a typed name
_CORRECTION_PREFIX = "correct_"  # correct_<position>: the name typed again
_MAX_CORRECTION = 200  # a typed pupil's longest name
_MAX_PUPILS_TEXT = 2_000
_MAX_POSITION_DIGITS = 3  # a photo names at most 100 pupils
_DESTINATION_VALUES = frozenset(kind.value for kind in DestinationKind)
_ALLOWED_NAMES_SHOWN = 40  # a whole-class photo lists this many allowed names, then "and N more"

_DEVICE_TITLES: dict[Device, str] = {
    Device.SCHOOL_DEVICE: "A school camera, tablet or phone",
    Device.PERSONAL_DEVICE: "My own phone or camera",
}
_MEDIA_TITLES: dict[MediaKind, str] = {MediaKind.PHOTO: "A photo", MediaKind.VIDEO: "A video"}


class _Payload(BaseModel):
    """A card's submitted data: camelCase on the wire, unknown keys (Teams adds some) ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


def _as_bool(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value


def _destination(kind: DestinationKind, account_name: str | None) -> Destination:
    """A destination as a card stores it: the kind, and the account's name for a school account."""
    if kind is DestinationKind.SCHOOL_ACCOUNT:
        return Destination.school_account(account_name or "")
    return Destination.of(kind)


# --- The question ----------------------------------------------------------------------------------


def photo_check_question_card(
    school_accounts: Sequence[str],
    *,
    pupils_text: str = "",
    problem: str | None = None,
    destinations_recorded: Collection[DestinationKind] | None = None,
) -> AdaptiveCard:
    """Ask where the photo will go, who is in it, which device took it, and the content checks.

    Args:
        school_accounts: names of the approved school accounts (from the account register).
        pupils_text: names typed earlier, to fill the box in again.
        problem: a line to show above the form (e.g. "Say who is in the photo.").
        destinations_recorded: the destinations the school records consent for (its purposes file); the others
            are not offered, except a personal account, which is always offered so the answer can say why not.
            None: every destination.
    """

    def offered(kind: DestinationKind) -> bool:
        return (destinations_recorded is None or kind in destinations_recorded
                or kind is DestinationKind.PERSONAL_ACCOUNT)

    accounts = school_accounts if offered(DestinationKind.SCHOOL_ACCOUNT) else ()
    destinations = [
        Choice(title=f"School account: {name}", value=f"{_ACCOUNT_PREFIX}{name}") for name in accounts
    ] + [
        Choice(title=DESTINATION_TITLES[kind].capitalize(), value=kind.value)
        for kind in DestinationKind
        if kind is not DestinationKind.SCHOOL_ACCOUNT and offered(kind)
    ]
    body: list[Element] = [
        TextBlock(text="Can I post this photo?", size="Large", weight="Bolder", style="heading"),
        TextBlock(
            text="I check the consent register for every pupil. Never send me the photo itself.",
            is_subtle=True,
            spacing="None",
        ),
    ]
    if problem:
        body.append(TextBlock(text=f"\u26a0\ufe0f {escape_markdown(problem)}", weight="Bolder"))
    if offered(DestinationKind.SCHOOL_ACCOUNT) and not accounts:
        body.append(TextBlock(text=NO_SCHOOL_ACCOUNT_YET, size="Small", spacing="Small"))
    body += [
        InputChoiceSet(
            id="destination",
            label="Where will it go?",
            choices=destinations,
            style="compact",
            is_required=True,
            error_message="Choose where the photo will go.",
        ),
        InputText(
            id="pupils",
            label="Who is in it? One pupil per line, or separated by semicolons; add the class in brackets "
            "if two pupils share a name, e.g. Oliver Smith (4C).",
            placeholder="Amelia Hughes\nSmith, Oliver (4C)",
            value=pupils_text[:_MAX_PUPILS_TEXT] or None,
            is_multiline=True,
            max_length=_MAX_PUPILS_TEXT,
            is_required=True,
            error_message="Name every pupil who can be seen.",
        ),
        TextBlock(text=f"\u201c{escape_markdown(Q_PROCEDURE_3.text)}\u201d List them too.", is_subtle=True,
                  size="Small", spacing="None"),
        InputChoiceSet(
            id="device",
            label="Which device took it?",
            choices=[Choice(title=title, value=device.value) for device, title in _DEVICE_TITLES.items()],
            style="expanded",
            value=Device.SCHOOL_DEVICE.value,
            is_required=True,
            error_message="Say which device took it.",
        ),
        InputChoiceSet(
            id="media",
            label="Photo or video?",
            choices=[Choice(title=title, value=media.value) for media, title in _MEDIA_TITLES.items()],
            style="expanded",
            value=MediaKind.PHOTO.value,
        ),
        TextBlock(text="Tick each one that is true", weight="Bolder", spacing="Medium"),
        InputToggle(id="appropriatelyDressed", title="Everyone in it is appropriately dressed", value="false"),
        InputToggle(id="nobodyRidiculed", title="Nobody in it is subject to ridicule", value="false"),
        InputToggle(
            id="notInToiletOrChangingArea", title="It was not taken in a toilet or changing area", value="false"
        ),
    ]
    return AdaptiveCard(
        fallback_text="Can I post this photo? Tell me where it will go, who is in it and which device took it.",
        body=body,
        actions=[ActionSubmit(title="Check", style="positive", data={"verb": PHOTO_CHECK_SUBMIT_VERB})],
    )


NO_SCHOOL_ACCOUNT_YET = (
    "No school social media account has been approved in the bot yet, so none is offered here: pupils' photos may "
    "go online only through school owned accounts (Use of images). An account gets into the register when a member "
    "of staff sends its business case (type **new account**) and the Head Teacher approves it: "
    f"\u201c{Q_BUSINESS_CASE.text}\u201d, \u201c{Q_HEAD_APPROVES.text}\u201d _(Process for creating new accounts; "
    f"{Q_HEAD_APPROVES.section})_. Type **accounts** to see the register."
)


class _PhotoQuestion(_Payload):
    """The question card's answers. A field left unanswered is None here and makes `to_request` fail, so the
    question is asked again; a value that cannot be one of the card's (an unknown destination or device) is not
    valid data."""

    destination: str | None = Field(default=None, min_length=1, max_length=250)
    pupils: str = Field(default="", max_length=_MAX_PUPILS_TEXT)
    device: Device | None = None
    media: MediaKind = MediaKind.PHOTO
    appropriately_dressed: bool = False
    nobody_ridiculed: bool = False
    not_in_toilet_or_changing_area: bool = False

    @field_validator("appropriately_dressed", "nobody_ridiculed", "not_in_toilet_or_changing_area", mode="before")
    @classmethod
    def _toggle(cls, value: Any) -> Any:
        return _as_bool(value)  # Input.Toggle sends "true" / "false"

    @field_validator("destination", "device", mode="before")
    @classmethod
    def _blank_is_unanswered(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("destination")
    @classmethod
    def _known_destination(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith(_ACCOUNT_PREFIX) and value[len(_ACCOUNT_PREFIX) :].strip():
            return value
        if value in {kind.value for kind in DestinationKind if kind is not DestinationKind.SCHOOL_ACCOUNT}:
            return value
        raise ValueError("unknown destination")

    def destination_model(self) -> Destination | None:
        if self.destination is None:
            return None
        if self.destination.startswith(_ACCOUNT_PREFIX):
            return Destination.school_account(self.destination[len(_ACCOUNT_PREFIX) :])
        return Destination.of(DestinationKind(self.destination))

    def to_request(self) -> PhotoCheckRequest:
        """The domain request (raises pydantic's ValidationError if no pupil was named, or no destination or
        device chosen)."""
        return PhotoCheckRequest.model_validate({
            "destination": self.destination_model(),
            "pupils": tuple(parse_pupil_names(self.pupils)),
            "device": self.device,
            "media": self.media,
            "appropriately_dressed": self.appropriately_dressed,
            "nobody_ridiculed": self.nobody_ridiculed,
            "not_in_toilet_or_changing_area": self.not_in_toilet_or_changing_area,
        })

    def answers(self) -> dict[str, Any]:
        """The answers as the question card sent them, for a later card's button to carry."""
        return self.model_dump(mode="json", by_alias=True, include=set(_PhotoQuestion.model_fields), exclude_none=True)


class PhotoCheckSubmit(_PhotoQuestion):
    """What the question card sends back (verb `photo_check_submit`)."""

    verb: Literal["photo_check_submit"] | None = None  # in an Action.Submit's data (the edge takes it out)


# --- Which pupil? ------------------------------------------------------------------------------------


def _pupil_title(pupil: Pupil, twins: bool) -> str:
    title = f"{pupil.display_name}, {pupil.class_label}"
    return f"{title} (pupil id {pupil.pupil_id})" if twins else title


def pupil_choice_card(
    verdict: Verdict,
    *,
    carried: Mapping[str, Any] | None = None,
    ask: str = "the school office",
    notice: str | None = None,
) -> AdaptiveCard:
    """For each typed name that matched several pupils or none: choose the right pupil, or type the name again.

    A name two pupils share gets a choice between them. A name not in the register gets a button per close match
    (name and class only: nothing about anyone's consent is shown before a pupil is chosen) and a box to type it
    again, corrected; the card says the answer is NO until every pupil is identified, and whom to ask.
    Choice and button titles are plain text in Teams (not Markdown), so names go in as they are.

    Args:
        carried: what every button sends back with its choice (the question's answers and the pupils already
            chosen: nothing is kept between turns).
        ask: who keeps the consent register (plain text), e.g. "Jo Bell (data administrator) or the school office".
        notice: a line above the names (plain text), e.g. that the name typed again is still not in the register.
    """
    data: dict[str, Any] = {**(carried or {}), "verb": PHOTO_CHECK_CHOOSE_VERB}
    body: list[Element] = [
        TextBlock(text="Which pupil did you mean?", size="Large", weight="Bolder", style="heading"),
        TextBlock(
            text="**The answer is NO until every pupil in the photo is identified in the consent register.** "
            "Do not post it yet.",
            spacing="None",
        ),
    ]
    if notice:
        body.append(TextBlock(text=f"\u26a0\ufe0f {escape_markdown(notice)}", weight="Bolder"))
    for pupil in verdict.pupils:
        if pupil.status is ResolutionStatus.MATCHED:
            continue
        typed = escape_markdown(pupil.typed.text, one_line=True)
        if pupil.status is ResolutionStatus.AMBIGUOUS:
            body += _ambiguous_rows(pupil, typed)
        else:
            body += _not_found_rows(pupil, typed, data)
    body.append(
        TextBlock(
            text=f"Not in the register (new to the school, or known by another name)? Ask {escape_markdown(ask)}: "
            "they keep the consent register. Until the pupil is identified, the answer stays NO.",
            is_subtle=True,
            size="Small",
            spacing="Medium",
            separator=True,
        )
    )
    return AdaptiveCard(
        fallback_text="Which pupil did you mean? Until each pupil is identified, the answer is no.",
        body=body,
        actions=[ActionSubmit(title="Check again", style="positive", data=data)],
    )


def _candidate_titles(candidates: Sequence[Pupil]) -> list[str]:
    titles = [_pupil_title(c, False) for c in candidates]
    return [_pupil_title(c, titles.count(title) > 1) for c, title in zip(candidates, titles, strict=True)]


def _ambiguous_rows(pupil: PupilVerdict, typed: str) -> list[Element]:
    choices = [Choice(title=title, value=c.pupil_id)
               for c, title in zip(pupil.candidates, _candidate_titles(pupil.candidates), strict=True)]
    choices.append(Choice(title="None of these", value=_NOT_LISTED))
    return [
        TextBlock(text=f"More than one pupil is called **{typed}**.", spacing="Medium", separator=True),
        InputChoiceSet(
            id=f"choice_{pupil.position}",
            label=f"Pupil for \u201c{pupil.typed.text}\u201d",
            choices=choices,
            style="expanded",
            is_required=True,
            error_message="Choose one, or None of these.",
        ),
    ]


def _not_found_rows(pupil: PupilVerdict, typed: str, data: Mapping[str, Any]) -> list[Element]:
    rows: list[Element] = [
        TextBlock(text=f"**{typed}** is not in the consent register.", spacing="Medium", separator=True),
    ]
    if pupil.candidates:
        rows.append(TextBlock(text="Close matches in the register (name and class). Is it one of these?",
                              size="Small", spacing="None"))
        rows += [
            ActionSet(spacing="Small", actions=[ActionSubmit(
                title=title, data={**data, f"{_CHOICE_PREFIX}{pupil.position}": candidate.pupil_id},
                associated_inputs="none",  # one press chooses: the boxes below need not be filled
            )])
            for candidate, title in zip(pupil.candidates, _candidate_titles(pupil.candidates), strict=True)
        ]
    else:
        rows.append(TextBlock(text="Nobody in the register has a similar name.", size="Small", spacing="None"))
    rows.append(InputText(
        id=f"{_CORRECTION_PREFIX}{pupil.position}",
        label="Or type the name again, corrected" if pupil.candidates else "Type the name again, corrected",
        placeholder="First name and surname, as in the register",
        max_length=_MAX_CORRECTION,
        is_required=True,
        error_message="Type the name again, corrected, or choose a close match above.",
    ))
    return rows


def _chosen(values: dict[str, Any]) -> dict[int, str]:
    """`choice_<position>` → pupil id; "none of these", blanks and anything not a choice are left out."""
    return {position: value[:64] for position, value in _numbered(values, _CHOICE_PREFIX).items()
            if value != _NOT_LISTED}


def _numbered(values: dict[str, Any], prefix: str) -> dict[int, str]:
    """`<prefix><position>` → its text, stripped; blanks and anything that is not text are left out."""
    found: dict[int, str] = {}
    for key, value in values.items():
        if not key.startswith(prefix) or not isinstance(value, str):
            continue
        position = key.removeprefix(prefix)
        if position.isdigit() and len(position) <= _MAX_POSITION_DIGITS and value.strip():
            found[int(position)] = value.strip()
    return found


class PupilChoiceSubmit(_Payload):
    """The choice card's inputs: `choice_<position>` → pupil id (or "not_listed")."""

    model_config = ConfigDict(extra="allow", frozen=True)

    verb: Literal["photo_check_choose_pupils"] | None = None

    def choices(self) -> dict[int, str]:
        """Position in the request's pupils → chosen pupil id (names left unchosen are not included)."""
        return _chosen(self.model_extra or {})


class PhotoCheckChoiceSubmit(_PhotoQuestion):
    """What the choice card's button sends (verb `photo_check_choose_pupils`): the question's answers, which its
    data carries (nothing is kept between the two turns), and the choice of each pupil."""

    model_config = ConfigDict(extra="allow", frozen=True)

    verb: Literal["photo_check_choose_pupils"] | None = None

    def choices(self) -> dict[int, str]:
        """Position in the request's pupils → chosen pupil id (names left unchosen are not included)."""
        return _chosen(self.model_extra or {})

    def corrections(self) -> dict[int, str]:
        """Position in the request's pupils → the name typed again on the choice card (at most 200 characters
        each: a longer one is cut, and the check answers for what is left)."""
        return {position: text[:_MAX_CORRECTION]
                for position, text in _numbered(self.model_extra or {}, _CORRECTION_PREFIX).items()}

    def none_of_these(self) -> list[int]:
        """Positions answered "None of these" on the choice card."""
        return sorted(position for position, value in _numbered(self.model_extra or {}, _CHOICE_PREFIX).items()
                      if value == _NOT_LISTED)


# --- The verdict -------------------------------------------------------------------------------------


def _known_kind_or_none(value: Any) -> Any:
    """A destination that is not one of ours (a forged or very old form) is read as none: the handler answers
    that the card is out of date."""
    return value if isinstance(value, str) and value in _DESTINATION_VALUES else None


class DeviceExceptionSubmit(_Payload):
    """The verdict card's "ask the Head Teacher" form: which photo (as the verdict saw it) and why
    (verb `request_device_exception`).

    Only a claim: the server checks it again on the current register before anything is sent. The circumstances
    and the form's id are checked by the handler, which says what is wrong with them.
    """

    verb: Literal["request_device_exception"] | None = None  # in the form's Action.Submit data
    destination: Annotated[DestinationKind | None, BeforeValidator(_known_kind_or_none)] = None
    account_name: str | None = Field(default=None, max_length=200)
    purposes: tuple[Annotated[str, Field(max_length=64)], ...] = Field(default=(), max_length=20)
    media: MediaKind = MediaKind.PHOTO
    pupil_ids: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = Field(default=(), max_length=100)
    register_version: int = Field(default=0, ge=0)
    appropriately_dressed: bool = False
    nobody_ridiculed: bool = False
    not_in_toilet_or_changing_area: bool = False
    circumstances: str = Field(default="", max_length=MAX_CIRCUMSTANCES_SENT)  # the handler answers "too long"
    form_id: str = Field(default="", max_length=64)

    @field_validator("appropriately_dressed", "nobody_ridiculed", "not_in_toilet_or_changing_area", mode="before")
    @classmethod
    def _toggle(cls, value: Any) -> Any:
        return _as_bool(value)

    def destination_model(self) -> Destination:
        """The destination (raises ValueError without one, pydantic's ValidationError for a school account without
        a name)."""
        if self.destination is None:
            raise ValueError("no destination")
        return _destination(self.destination, self.account_name)

    def to_request(self) -> PhotoCheckRequest:
        """The photo as a domain request, each pupil pinned by id (raises ValueError, or pydantic's ValidationError,
        without a destination or a pupil)."""
        return PhotoCheckRequest(
            destination=self.destination_model(),
            pupils=tuple(TypedPupil(text=f"pupil id {pid}", pupil_id=pid) for pid in dict.fromkeys(self.pupil_ids)),
            device=Device.PERSONAL_DEVICE,
            media=self.media,
            appropriately_dressed=self.appropriately_dressed,
            nobody_ridiculed=self.nobody_ridiculed,
            not_in_toilet_or_changing_area=self.not_in_toilet_or_changing_area,
        )


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _reason_lines(reasons: Sequence[Reason]) -> list[str]:
    return [
        f"{escape_markdown(r.text)} _({escape_markdown(', '.join(dict.fromkeys(q.section for q in r.quotes)))})_"
        for r in reasons
    ]


def _pupil_name(pupil: PupilVerdict) -> str:
    if pupil.pupil is not None:
        return _name_and_class(pupil.pupil)
    return f"**{escape_markdown(pupil.typed.text, one_line=True)}**"


def _name_and_class(pupil: Pupil) -> str:
    name = escape_markdown(pupil.display_name, one_line=True)
    return f"**{name}** ({escape_markdown(pupil.class_label, one_line=True)})"


def _marked_row(mark: str, heading: str, detail: str, *, subtle: bool = False) -> ColumnSet:
    """A line of the verdict: a mark (\u2716 or \u2714: the mark, not a colour, says which), then who, with the detail
    below in small print."""
    return ColumnSet(
        spacing="Small",
        columns=[
            Column(width="auto", items=[TextBlock(text=mark)]),
            Column(
                width="stretch",
                items=[
                    TextBlock(text=heading),
                    TextBlock(text=detail, spacing="None", size="Small", is_subtle=subtle or None),
                ],
            ),
        ],
    )


def _pupil_rows(verdict: Verdict) -> list[Element]:
    rows: list[Element] = []
    refused = [p for p in verdict.pupils if not p.allowed]
    allowed = [p for p in verdict.pupils if p.allowed]
    for pupil in refused:
        lines = _reason_lines(pupil.reasons)
        if not lines:  # a personal account: the photo's own reason already says no
            lines = ["not checked: the photo itself is a no (see About the photo)"]
        if pupil.status is ResolutionStatus.NOT_FOUND and pupil.candidates:
            close = ", ".join(escape_markdown(c.display_name, one_line=True) for c in pupil.candidates)
            lines.append(f"did you mean {close}?")
        rows.append(_marked_row("\u2716", _pupil_name(pupil), _bullets(lines)))
    if allowed:
        purposes = ", ".join(escape_markdown(p.title, one_line=True) for p in verdict.purposes)
        names = [_pupil_name(p) for p in allowed[:_ALLOWED_NAMES_SHOWN]]
        more = len(allowed) - len(names)
        text = ", ".join(names) + (f" and {more} more" if more else "")
        rows.append(_marked_row("\u2714", text, f"consent granted for {purposes}", subtle=True))
    return rows


@dataclass(frozen=True)
class AuthorisedException:
    """The Head Teacher's authorisation a verdict was decided with (found on the server, never claimed)."""

    reference: str
    decided_on: date
    decided_by: str | None = None


def _exception_form(verdict: Verdict, form_id: str) -> ActionShowCard:
    """"Ask the Head Teacher for an exception": why a personal device, then send (the photo as checked)."""
    payload = DeviceExceptionSubmit(
        verb="request_device_exception",
        destination=verdict.destination.kind,
        account_name=verdict.destination.account_name,
        purposes=tuple(p.key for p in verdict.purposes),
        media=verdict.media,
        pupil_ids=verdict.pupil_ids,
        register_version=verdict.register_version,
        # The device is the one reason for "no", so all three content checks were confirmed.
        appropriately_dressed=True,
        nobody_ridiculed=True,
        not_in_toilet_or_changing_area=True,
        form_id=form_id,
    )
    data = payload.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"circumstances"})
    return ActionShowCard(
        title="Ask the Head Teacher for an exception",
        card=AdaptiveCard(
            body=[
                TextBlock(
                    text=f"The policy: \u201c{escape_markdown(Q_PERSONAL_PHONES.text)}\u201d "
                    f"_({escape_markdown(Q_PERSONAL_PHONES.section)})_",
                    size="Small",
                ),
                InputText(
                    id=CIRCUMSTANCES_INPUT,
                    label="What are the exceptional circumstances, and why was a personal device used?",
                    placeholder="e.g. the school tablet failed during the Year 6 performance",
                    is_multiline=True,
                    max_length=MAX_CIRCUMSTANCES,
                    is_required=True,
                    error_message="Say what the exceptional circumstances are.",
                ),
                TextBlock(
                    text="The Head Teacher sees where it will go, the pupils and what you write here. Never the photo.",
                    is_subtle=True,
                    size="Small",
                ),
            ],
            actions=[ActionSubmit(title="Send to the Head Teacher", style="positive", data=data)],
        ),
    )


def verdict_card(
    verdict: Verdict,
    *,
    exception: AuthorisedException | None = None,
    notice: str | None = None,
    form_id: str | None = None,
) -> AdaptiveCard:
    """The answer: a big YES or NO, a line per pupil, the policy sentences behind it, the reminders.

    Args:
        exception: the authorisation the verdict was decided with (shown with its reference and date).
        notice: a line above the answer (plain text, escaped here), e.g. why no request was sent.
        form_id: names the exception form (the same form sent twice makes one request); new if not given.
    """
    yes = verdict.answer is Answer.YES
    where = verdict.destination.label
    headline = (
        f"You may post it to {escape_markdown(where, one_line=True)}."
        if yes
        else f"Do not post it to {escape_markdown(where, one_line=True)}."
    )
    facts = [
        Fact(title="Where", value=escape_markdown(where, one_line=True)),
        Fact(title="Consent needed for", value=escape_markdown(", ".join(p.title for p in verdict.purposes)) or "-"),
        Fact(title="Device", value=escape_markdown(_DEVICE_TITLES[verdict.device])),
    ]
    if verdict.device_exception_used:
        authorised = "Authorised by the Head Teacher"
        if exception is not None:
            by = f" ({escape_markdown(exception.decided_by, one_line=True)})" if exception.decided_by else ""
            reference = escape_markdown(exception.reference, one_line=True)
            authorised += f"{by} on {_format_day(exception.decided_on)}, {reference}"
        facts.append(Fact(title="Exception", value=authorised))
    body: list[Element] = []
    if notice:
        body.append(TextBlock(text=f"\u26a0\ufe0f {escape_markdown(notice)}", weight="Bolder"))
    body += [
        Container(
            style="good" if yes else "attention",
            bleed=True,
            items=[
                TextBlock(text="YES" if yes else "NO", size="ExtraLarge", weight="Bolder"),  # the word, not a colour
                TextBlock(text=headline, weight="Bolder", spacing="None"),
            ],
        ),
        FactSet(facts=facts),
    ]
    if verdict.device_exception_used:
        body.append(
            TextBlock(
                text="Taken on a personal device, which the Head Teacher authorised as an exception. The policy: "
                f"\u201c{escape_markdown(Q_PERSONAL_PHONES.text)}\u201d "
                f"_({escape_markdown(Q_PERSONAL_PHONES.section)})_",
                size="Small",
            )
        )
    if verdict.reasons:
        body += [
            TextBlock(text="About the photo", weight="Bolder", spacing="Medium", separator=True),
            TextBlock(text=_bullets(_reason_lines(verdict.reasons)), spacing="Small"),
        ]
    if verdict.pupils:
        body.append(TextBlock(text="Pupils", weight="Bolder", spacing="Medium", separator=True))
        body += _pupil_rows(verdict)
    quotes = verdict.quotes()
    if quotes:
        body.append(TextBlock(text="What the policy says", weight="Bolder", spacing="Medium", separator=True))
        for quote in quotes:
            body += [
                TextBlock(text=f"\u201c{escape_markdown(quote.text)}\u201d", spacing="Small"),
                TextBlock(text=escape_markdown(quote.section), is_subtle=True, size="Small", spacing="None"),
            ]
    if verdict.reminders:
        body += [
            TextBlock(text="Remember", weight="Bolder", spacing="Medium", separator=True),
            TextBlock(
                text=_bullets(
                    [
                        f"{escape_markdown(r.text)} \u201c{escape_markdown(r.quote.text)}\u201d "
                        f"_({escape_markdown(r.quote.section)})_"
                        for r in verdict.reminders
                    ]
                ),
                spacing="Small",
            ),
        ]
    if verdict.policy_silent:
        body.append(
            TextBlock(
                text=_bullets([escape_markdown(note) for note in verdict.policy_silent]),
                is_subtle=True,
                size="Small",
                spacing="Medium",
            )
        )
    actions: list[Action] = []
    if verdict.can_request_device_exception:
        actions.append(_exception_form(verdict, form_id or uuid.uuid4().hex))
    return AdaptiveCard(
        fallback_text=("YES: " if yes else "NO: ") + headline,
        body=body,
        actions=actions or None,
    )


def _format_day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


# --- The exception request (the approval kind "Photo on a personal device") ------------------------------


class ExceptionPupil(BaseModel):
    model_config = ConfigDict(frozen=True)

    pupil_id: str = Field(min_length=1, max_length=64)
    name: str = Field(max_length=300)
    class_label: str = Field(default="", max_length=120)


class DeviceExceptionCase(BaseModel):
    """An exception request as stored in the approval's payload: the photo as checked, and why.

    Built on the server from a fresh verdict (`from_verdict`), never from what a card claims.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    destination: DestinationKind
    account_name: str | None = None
    media: MediaKind = MediaKind.PHOTO
    purposes: tuple[str, ...] = ()
    purpose_titles: tuple[str, ...] = ()
    pupils: tuple[ExceptionPupil, ...] = Field(min_length=1, max_length=100)
    circumstances: str = Field(min_length=1, max_length=MAX_CIRCUMSTANCES)
    register_version: int = 0
    appropriately_dressed: bool = True
    nobody_ridiculed: bool = True
    not_in_toilet_or_changing_area: bool = True

    @classmethod
    def from_verdict(cls, verdict: Verdict, circumstances: str) -> DeviceExceptionCase:
        return cls(
            destination=verdict.destination.kind,
            account_name=verdict.destination.account_name,
            media=verdict.media,
            purposes=tuple(p.key for p in verdict.purposes),
            purpose_titles=tuple(p.title for p in verdict.purposes),
            pupils=tuple(
                ExceptionPupil(pupil_id=p.pupil.pupil_id, name=p.pupil.display_name, class_label=p.pupil.class_label)
                for p in verdict.pupils
                if p.pupil is not None
            ),
            circumstances=circumstances,
            register_version=verdict.register_version,
        )

    @property
    def pupil_ids(self) -> tuple[str, ...]:
        return tuple(p.pupil_id for p in self.pupils)

    def destination_model(self) -> Destination:
        return _destination(self.destination, self.account_name)

    def to_request(self) -> PhotoCheckRequest:
        """The same photo as a check on the current register (pupils pinned by id)."""
        return PhotoCheckRequest(
            destination=self.destination_model(),
            pupils=tuple(TypedPupil(text=p.name or p.pupil_id, pupil_id=p.pupil_id) for p in self.pupils),
            device=Device.PERSONAL_DEVICE,
            media=self.media,
            appropriately_dressed=self.appropriately_dressed,
            nobody_ridiculed=self.nobody_ridiculed,
            not_in_toilet_or_changing_area=self.not_in_toilet_or_changing_area,
        )


def _media_word(media: MediaKind) -> str:
    return "video" if media is MediaKind.VIDEO else "photo"


def device_exception_summary(
    case: DeviceExceptionCase, requested_by: str, *, days: int | None = None
) -> RequestSummary:
    """What the approval cards show. Values are plain text (the approval cards escape them).

    The SLT channel sees where, how many pupils and who asked: never a child's name.

    Args:
        days: how many days after the decision an authorisation applies (the school's setting), if known.
    """
    if days is None:
        lasts = "for a number of days the school sets"
    elif days == 0:
        lasts = "on the day of the decision only (the school's setting)"
    else:
        lasts = f"for {days} day{'s' if days != 1 else ''} after the decision (the school's setting)"
    where = case.destination_model().label
    media = _media_word(case.media)
    count = len(case.pupils)
    pupils = "; ".join(f"{p.name} ({p.class_label})" for p in case.pupils)
    return RequestSummary(
        title=f"A {media} for {where}, taken on a personal device",
        facts=(
            ("Where", where),
            ("Consent needed for", ", ".join(case.purpose_titles) or "-"),
            ("Photo or video", media.capitalize()),
            (f"Pupils ({count})", pupils),
            ("Exceptional circumstances", case.circumstances),
            ("Requested by", requested_by),
        ),
        slt_facts=(
            ("Where", where),
            ("Pupils", f"{count} pupil{'s' if count != 1 else ''}"),
            ("Requested by", requested_by),
        ),
        notes=(
            f"The policy ({Q_PERSONAL_PHONES.section}): \u201c{Q_PERSONAL_PHONES.text}\u201d",
            "When this was sent, every pupil had consent for this use in the consent register and the three content "
            "checks were confirmed: the personal device was the one reason for no. Each later check looks at the "
            "register again.",
            f"The policy does not say how long an authorisation lasts; the bot applies it to checks of this photo "
            f"{lasts}. Ask SLT if that should change.",
        ),
    )


class ExceptionButton(RequestButton):
    """"Check it again now" on the message sent after approval (verb `photo_check_exception_recheck`): which
    exception request, read as the approval desk reads its own buttons (`RequestButton`: a missing id, or text that
    is not a number, names no request; a boolean, fraction, negative or huge id, or another type is not valid)."""


class DeviceExceptionResubmit(RequestButton):
    """"Send it again" on the form to change a request (verb `device_exception_resubmit`): the request and the
    round the form shows (as `RequestButton`), and the changed circumstances, checked by the handler, which says
    what is wrong with them."""

    circumstances: str = Field(default="", max_length=MAX_CIRCUMSTANCES_SENT)


def device_exception_edit_card(
    request_id: int, reference: str, round_: int, circumstances: str, comment: str | None,
    *, problem: str | None = None,
) -> AdaptiveCard:
    """The requester changes the circumstances after the Head Teacher asked for changes, then sends it again."""
    body: list[Element] = [
        TextBlock(text=f"Change your request {escape_markdown(reference, one_line=True)}", size="Large",
                  weight="Bolder", style="heading"),
    ]
    if comment:
        body.append(TextBlock(text=f"The Head Teacher asked: \u201c{escape_markdown(comment)}\u201d"))
    if problem:
        body.append(TextBlock(text=f"\u26a0\ufe0f {escape_markdown(problem)}", weight="Bolder"))
    body.append(
        InputText(
            id=CIRCUMSTANCES_INPUT,
            label="What are the exceptional circumstances, and why was a personal device used?",
            value=circumstances[:MAX_CIRCUMSTANCES] or None,
            is_multiline=True,
            max_length=MAX_CIRCUMSTANCES,
            is_required=True,
            error_message="Say what the exceptional circumstances are.",
        )
    )
    data = {"request_id": request_id, "round": round_}
    return AdaptiveCard(
        fallback_text=f"Change your request {reference}",
        body=body,
        actions=[
            ActionExecute(
                title="Send it again", verb=DEVICE_EXCEPTION_RESUBMIT_VERB, data=data, style="positive",
                fallback=ActionSubmit(title="Send it again", style="positive",
                                      data={"verb": DEVICE_EXCEPTION_RESUBMIT_VERB, **data}),
            )
        ],
    )


def device_exception_approved_card(
    request_id: int, reference: str, case: DeviceExceptionCase, *, until: date
) -> AdaptiveCard:
    """To the requester after approval: what was authorised, until when, and a button to check it again."""
    data = {"request_id": request_id}
    media = _media_word(case.media)
    return AdaptiveCard(
        fallback_text=f"The Head Teacher authorised {reference}: check the {media} again.",
        body=[
            TextBlock(text=f"\u2714 Exception authorised: {escape_markdown(reference, one_line=True)}", size="Medium",
                      weight="Bolder"),
            TextBlock(
                text=f"The Head Teacher authorised the personal device for this {media} of "
                f"{len(case.pupils)} pupil{'s' if len(case.pupils) != 1 else ''} for "
                f"{escape_markdown(case.destination_model().label, one_line=True)}. Check it again before you post "
                "it: the consent register may have changed.",
            ),
            FactSet(facts=[
                Fact(title="Pupils", value=", ".join(escape_markdown(p.name, one_line=True) for p in case.pupils)),
                Fact(title="Applies to checks until", value=_format_day(until)),
            ]),
        ],
        actions=[
            ActionExecute(
                title="Check it again now", verb=EXCEPTION_RECHECK_VERB, data=data, style="positive",
                fallback=ActionSubmit(title="Check it again now", style="positive",
                                      data={"verb": EXCEPTION_RECHECK_VERB, **data}),
            )
        ],
    )
