"""Cards of the "can I post this photo?" check: the question, the choice of pupils, the verdict.

One function per card; each submit payload has its own model and verb:

- `photo_check_question_card(accounts)` → submit `PhotoCheckSubmit` (verb `photo_check_submit`);
  `PhotoCheckSubmit.to_request()` gives the domain's `PhotoCheckRequest`.
- `pupil_choice_card(verdict)` (when `verdict.needs_pupil_choice`) → submit `PupilChoiceSubmit` (verb
  `photo_check_choose_pupils`); `domain.consent.with_choices(request.pupils, submit.choices())` then
  check again.
- `verdict_card(verdict)`: the answer. A personal-device "no" carries a button with
  `DeviceExceptionSubmit` (verb `request_device_exception`) for the approval mechanism.

Nothing in a payload is trusted: the account is checked against the account register and a device
exception against the approvals, on the server. All pupil and user text is escaped for Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from cards.base import (
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
from domain.consent import (
    DESTINATION_TITLES,
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
    Verdict,
    parse_pupil_names,
)

PHOTO_CHECK_SUBMIT_VERB = "photo_check_submit"
PHOTO_CHECK_CHOOSE_VERB = "photo_check_choose_pupils"
REQUEST_DEVICE_EXCEPTION_VERB = "request_device_exception"

_ACCOUNT_PREFIX = "account:"
_NOT_LISTED = "not_listed"  # "none of these" on the choice card
_MAX_PUPILS_TEXT = 2_000
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


# --- The question ----------------------------------------------------------------------------------


def photo_check_question_card(
    school_accounts: Sequence[str], *, pupils_text: str = "", problem: str | None = None
) -> AdaptiveCard:
    """Ask where the photo will go, who is in it, which device took it, and the content checks.

    Args:
        school_accounts: names of the approved school accounts (from the account register).
        pupils_text: names typed earlier, to fill the box in again.
        problem: a line to show above the form (e.g. "Say who is in the photo.").
    """
    destinations = [
        Choice(title=f"School account: {name}", value=f"{_ACCOUNT_PREFIX}{name}") for name in school_accounts
    ] + [
        Choice(title=DESTINATION_TITLES[kind].capitalize(), value=kind.value)
        for kind in DestinationKind
        if kind is not DestinationKind.SCHOOL_ACCOUNT
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
        body.append(TextBlock(text=escape_markdown(problem), color="Attention"))
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


class PhotoCheckSubmit(_Payload):
    """What the question card sends back."""

    verb: Literal["photo_check_submit"]
    destination: str = Field(min_length=1, max_length=250)
    pupils: str = Field(default="", max_length=_MAX_PUPILS_TEXT)
    device: Device
    media: MediaKind = MediaKind.PHOTO
    appropriately_dressed: bool = False
    nobody_ridiculed: bool = False
    not_in_toilet_or_changing_area: bool = False

    @field_validator("appropriately_dressed", "nobody_ridiculed", "not_in_toilet_or_changing_area", mode="before")
    @classmethod
    def _toggle(cls, value: Any) -> Any:
        return _as_bool(value)  # Input.Toggle sends "true" / "false"

    @field_validator("destination")
    @classmethod
    def _known_destination(cls, value: str) -> str:
        if value.startswith(_ACCOUNT_PREFIX) and value[len(_ACCOUNT_PREFIX) :].strip():
            return value
        if value in {kind.value for kind in DestinationKind if kind is not DestinationKind.SCHOOL_ACCOUNT}:
            return value
        raise ValueError("unknown destination")

    def destination_model(self) -> Destination:
        if self.destination.startswith(_ACCOUNT_PREFIX):
            return Destination.school_account(self.destination[len(_ACCOUNT_PREFIX) :])
        return Destination.of(DestinationKind(self.destination))

    def to_request(self) -> PhotoCheckRequest:
        """The domain request (raises pydantic's ValidationError if no pupil was named)."""
        return PhotoCheckRequest(
            destination=self.destination_model(),
            pupils=tuple(parse_pupil_names(self.pupils)),
            device=self.device,
            media=self.media,
            appropriately_dressed=self.appropriately_dressed,
            nobody_ridiculed=self.nobody_ridiculed,
            not_in_toilet_or_changing_area=self.not_in_toilet_or_changing_area,
        )


# --- Which pupil? ------------------------------------------------------------------------------------


def _pupil_title(pupil: Pupil, twins: bool) -> str:
    title = f"{pupil.display_name}, {pupil.class_label}"
    return f"{title} (pupil id {pupil.pupil_id})" if twins else title


def pupil_choice_card(verdict: Verdict) -> AdaptiveCard:
    """For each typed name that matched several pupils or none: choose the right pupil.

    Choice titles are plain text in Teams (not Markdown), so names go in as they are.
    """
    body: list[Element] = [
        TextBlock(text="Which pupil did you mean?", size="Large", weight="Bolder", style="heading"),
        TextBlock(
            text="Until each name is matched to one pupil of the consent register, the answer is no.",
            is_subtle=True,
            spacing="None",
        ),
    ]
    for pupil in verdict.pupils:
        if pupil.status is ResolutionStatus.MATCHED:
            continue
        typed = escape_markdown(pupil.typed.text)
        if pupil.status is ResolutionStatus.AMBIGUOUS:
            question = f"More than one pupil is called **{typed}**."
        elif pupil.candidates:
            question = f"**{typed}** is not in the register. Did you mean:"
        else:
            question = f"**{typed}** is not in the register and nobody has a similar name."
        body.append(TextBlock(text=question, spacing="Medium", separator=True))
        if not pupil.candidates:
            continue
        titles = [_pupil_title(c, False) for c in pupil.candidates]
        choices = [
            Choice(title=_pupil_title(c, titles.count(title) > 1), value=c.pupil_id)
            for c, title in zip(pupil.candidates, titles, strict=True)
        ]
        choices.append(Choice(title="None of these", value=_NOT_LISTED))
        body.append(
            InputChoiceSet(
                id=f"choice_{pupil.position}",
                label=f"Pupil for \u201c{pupil.typed.text}\u201d",
                choices=choices,
                style="expanded",
                is_required=True,
                error_message="Choose one, or None of these.",
            )
        )
    return AdaptiveCard(
        fallback_text="Which pupil did you mean?",
        body=body,
        actions=[ActionSubmit(title="Check again", style="positive", data={"verb": PHOTO_CHECK_CHOOSE_VERB})],
    )


class PupilChoiceSubmit(_Payload):
    """What the choice card sends back: `choice_<position>` → pupil id (or "not_listed")."""

    model_config = ConfigDict(extra="allow", frozen=True)

    verb: Literal["photo_check_choose_pupils"]

    def choices(self) -> dict[int, str]:
        """Position in the request's pupils → chosen pupil id (names left unchosen are not included)."""
        chosen: dict[int, str] = {}
        for key, value in (self.model_extra or {}).items():
            if not key.startswith("choice_") or not isinstance(value, str):
                continue
            position = key.removeprefix("choice_")
            if position.isdigit() and value and value != _NOT_LISTED:
                chosen[int(position)] = value[:64]
        return chosen


# --- The verdict -------------------------------------------------------------------------------------


class DeviceExceptionSubmit(_Payload):
    """The verdict card's "ask the Head Teacher" button: what the exception request is about."""

    verb: Literal["request_device_exception"]
    destination: DestinationKind
    account_name: str | None = Field(default=None, max_length=200)
    purposes: tuple[str, ...] = ()
    media: MediaKind = MediaKind.PHOTO
    pupil_ids: tuple[str, ...] = ()
    register_version: int = 0


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _reason_lines(reasons: Sequence[Reason]) -> list[str]:
    return [
        f"{escape_markdown(r.text)} _({escape_markdown(', '.join(dict.fromkeys(q.section for q in r.quotes)))})_"
        for r in reasons
    ]


def _pupil_name(pupil: PupilVerdict) -> str:
    if pupil.pupil is not None:
        return f"**{escape_markdown(pupil.pupil.display_name)}** ({escape_markdown(pupil.pupil.class_label)})"
    return f"**{escape_markdown(pupil.typed.text)}**"


def _pupil_rows(verdict: Verdict) -> list[Element]:
    rows: list[Element] = []
    refused = [p for p in verdict.pupils if not p.allowed]
    allowed = [p for p in verdict.pupils if p.allowed]
    for pupil in refused:
        lines = _reason_lines(pupil.reasons)
        if not lines:  # a personal account: the photo's own reason already says no
            lines = ["not checked: the destination is never allowed"]
        if pupil.status is ResolutionStatus.NOT_FOUND and pupil.candidates:
            names = ", ".join(escape_markdown(c.display_name) for c in pupil.candidates)
            lines.append(f"did you mean {names}?")
        rows.append(
            ColumnSet(
                spacing="Small",
                columns=[
                    Column(width="auto", items=[TextBlock(text="\u2716", color="Attention")]),
                    Column(
                        width="stretch",
                        items=[
                            TextBlock(text=_pupil_name(pupil)),
                            TextBlock(text=_bullets(lines), spacing="None", size="Small"),
                        ],
                    ),
                ],
            )
        )
    if allowed:
        purposes = ", ".join(escape_markdown(p.title) for p in verdict.purposes)
        names = [_pupil_name(p) for p in allowed[:_ALLOWED_NAMES_SHOWN]]
        more = len(allowed) - len(names)
        text = ", ".join(names) + (f" and {more} more" if more else "")
        rows.append(
            ColumnSet(
                spacing="Small",
                columns=[
                    Column(width="auto", items=[TextBlock(text="\u2714", color="Good")]),
                    Column(
                        width="stretch",
                        items=[
                            TextBlock(text=text),
                            TextBlock(text=f"consent granted for {purposes}", spacing="None", size="Small",
                                      is_subtle=True),
                        ],
                    ),
                ],
            )
        )
    return rows


def verdict_card(verdict: Verdict) -> AdaptiveCard:
    """The answer: a big YES or NO, a line per pupil, the policy sentences behind it, the reminders."""
    yes = verdict.answer is Answer.YES
    where = verdict.destination.label
    headline = (
        f"You may post it to {escape_markdown(where)}."
        if yes
        else f"Do not post it to {escape_markdown(where)}."
    )
    facts = [
        Fact(title="Where", value=escape_markdown(where)),
        Fact(title="Consent needed for", value=escape_markdown(", ".join(p.title for p in verdict.purposes)) or "-"),
        Fact(title="Device", value=escape_markdown(_DEVICE_TITLES[verdict.device])),
    ]
    if verdict.device_exception_used:
        facts.append(Fact(title="Exception", value="Authorised by the Head Teacher"))
    body: list[Element] = [
        Container(
            style="good" if yes else "attention",
            bleed=True,
            items=[
                TextBlock(
                    text="YES" if yes else "NO",
                    size="ExtraLarge",
                    weight="Bolder",
                    color="Good" if yes else "Attention",
                ),
                TextBlock(text=headline, weight="Bolder", spacing="None"),
            ],
        ),
        FactSet(facts=facts),
    ]
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
    actions: list[ActionSubmit] = []
    if verdict.can_request_device_exception:
        payload = DeviceExceptionSubmit(
            verb="request_device_exception",
            destination=verdict.destination.kind,
            account_name=verdict.destination.account_name,
            purposes=tuple(p.key for p in verdict.purposes),
            media=verdict.media,
            pupil_ids=verdict.pupil_ids,
            register_version=verdict.register_version,
        )
        actions.append(
            ActionSubmit(
                title="Ask the Head Teacher for an exception",
                data=payload.model_dump(by_alias=True, mode="json", exclude_none=True),
            )
        )
    return AdaptiveCard(
        fallback_text=("YES: " if yes else "NO: ") + headline,
        body=body,
        actions=actions or None,
    )
