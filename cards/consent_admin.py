"""Cards for keeping the consent register in Teams (issue 7): "do not photograph", the data admin's requests,
the CSV import and the register's versions.

One function per card; each button's payload has its own model and verb:

- `do_not_photograph_form_card()` → `DoNotPhotographSubmit` (verb `do_not_photograph_submit`);
- `do_not_photograph_choice_card(...)` → `DoNotPhotographChoice` (verb `do_not_photograph_choose`);
- `do_not_photograph_request_card(...)` (the data admin's copy) and `photo_requests_card(...)` → `ClearSubmit`
  (verb `do_not_photograph_clear`, data admin only, checked on the server);
- `register_imported_card(...)`, `register_activated_card(...)` and `consent_register_card(...)` →
  `ActivateSubmit` (verb `consent_register_activate`, data admin only, checked on the server).

Nothing in a payload is trusted: the actor's roles are looked up on every click, and pupil ids are looked up in
the current register. Pupil and user text is escaped for Markdown; choice titles are plain text in Teams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictBool
from pydantic.alias_generators import to_camel

from cards.approvals import digits_as_number
from cards.base import (
    ActionExecute,
    ActionSet,
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
from cards.incidents import school_time
from domain.calendar import SchoolCalendar
from domain.consent import Q_RESPECT_WISHES, ConsentState, Pupil, Purpose, RegisterEntry
from domain.consent_import import ImportRejected

DO_NOT_PHOTOGRAPH_SUBMIT_VERB = "do_not_photograph_submit"
DO_NOT_PHOTOGRAPH_CHOOSE_VERB = "do_not_photograph_choose"
DO_NOT_PHOTOGRAPH_CLEAR_VERB = "do_not_photograph_clear"
CONSENT_REGISTER_ACTIVATE_VERB = "consent_register_activate"

NOT_LISTED = "not_listed"  # "none of these" on the choice card
MAX_NAME = 200
MAX_NOTE = 500
MAX_SENT = 10  # a name or note up to this many times its limit is answered "too long"; longer is not valid data
MAX_VERSION = 2**31 - 1  # register versions are the database's integer keys
PROBLEMS_SHOWN = 20  # a rejected file lists this many problems, then "and N more"

_WISHES = f"\u201c{escape_markdown(Q_RESPECT_WISHES.text)}\u201d ({Q_RESPECT_WISHES.section})"
_MIS = "update the MIS"


class _Payload(BaseModel):
    """A card's submitted data: camelCase on the wire, unknown keys (Teams adds some) ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class DoNotPhotographSubmit(_Payload):
    """The form (verb `do_not_photograph_submit`). A name or note longer than the form allows is answered by the
    handler with the form again; far longer is not valid data."""

    verb: Literal["do_not_photograph_submit"] | None = None  # in an Action.Submit fallback's data
    pupil: str = Field(default="", max_length=MAX_SENT * MAX_NAME)
    note: str = Field(default="", max_length=MAX_SENT * MAX_NOTE)


class DoNotPhotographChoice(_Payload):
    """The choice card (verb `do_not_photograph_choose`): the name as typed and the note (carried in the button's
    data) and the pupil chosen, or "none of these"."""

    verb: Literal["do_not_photograph_choose"] | None = None
    typed: str = Field(default="", max_length=MAX_NAME)
    note: str = Field(default="", max_length=MAX_NOTE)
    choice: str = Field(default="", max_length=64)


class ClearSubmit(_Payload):
    """"Done: updated in the MIS" (verb `do_not_photograph_clear`): the pupil, and whether the button was on the
    list of requests (answer with the list again)."""

    verb: Literal["do_not_photograph_clear"] | None = None
    pupil_id: str = Field(min_length=1, max_length=64)
    in_list: StrictBool = Field(default=False, alias="list")


class ActivateSubmit(_Payload):
    """"Undo" / "Make this the current register" (verb `consent_register_activate`): the version to make current."""

    verb: Literal["consent_register_activate"] | None = None
    version: Annotated[int, Strict(), Field(ge=1, le=MAX_VERSION), BeforeValidator(digits_as_number)]


def _execute(title: str, verb: str, data: dict[str, Any], *, style: str | None = None) -> ActionExecute:
    return ActionExecute.with_fallback(title, verb, data, style=style)


def _heading(text: str, color: str | None = None) -> TextBlock:
    return TextBlock(text=text, size="Large", weight="Bolder", style="heading", color=color)


def _facts(pairs: Sequence[tuple[str, str]]) -> FactSet:
    return FactSet(facts=[Fact(title=title, value=escape_markdown(value)) for title, value in pairs if value])


def _pupil_line(pupil: Pupil) -> str:
    name = escape_markdown(pupil.display_name, one_line=True)
    return f"**{name}** ({escape_markdown(pupil.class_label, one_line=True)})"


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


# --- Do not photograph: staff ----------------------------------------------------------------------


def do_not_photograph_form_card(*, name: str = "", note: str = "", problem: str | None = None) -> AdaptiveCard:
    """Ask which pupil asked not to be photographed or filmed, and who asked."""
    body: list[Element] = [
        _heading("Do not photograph or film"),
        TextBlock(text=f"The policy says: {_WISHES}", is_subtle=True, spacing="None"),
    ]
    if problem:
        body.append(TextBlock(text=escape_markdown(problem), color="Attention"))
    body += [
        InputText(
            id="pupil", label="Which pupil? Add the class in brackets if two share a name, e.g. Oliver Smith (4C).",
            value=name[:MAX_NAME] or None, max_length=MAX_NAME, is_required=True,
            error_message="Type the pupil's name.",
        ),
        InputText(
            id="note", label="Who asked, and anything the school office should know (optional)",
            placeholder="e.g. the pupil asked; a parent asked at the gate", value=note[:MAX_NOTE] or None,
            max_length=MAX_NOTE, is_multiline=True,
        ),
    ]
    return AdaptiveCard(
        fallback_text="Do not photograph or film: which pupil?",
        body=body,
        actions=[_execute("Record it", DO_NOT_PHOTOGRAPH_SUBMIT_VERB, {}, style="positive")],
    )


def _choice_title(pupil: Pupil, twins: bool) -> str:
    title = f"{pupil.display_name}, {pupil.class_label}"
    return f"{title} (pupil id {pupil.pupil_id})" if twins else title


def do_not_photograph_choice_card(typed: str, candidates: Sequence[Pupil], *, note: str = "",
                                  several: bool) -> AdaptiveCard:
    """A typed name matched several pupils (`several`) or none: choose, or say it is none of these."""
    shown = escape_markdown(typed, one_line=True)
    question = (f"More than one pupil is called **{shown}**. Which one?" if several
                else f"**{shown}** is not in the consent register. Did you mean:")
    titles = [_choice_title(c, False) for c in candidates]
    choices = [Choice(title=_choice_title(c, titles.count(t) > 1), value=c.pupil_id)
               for c, t in zip(candidates, titles, strict=True)]
    choices.append(Choice(title="None of these", value=NOT_LISTED))
    return AdaptiveCard(
        fallback_text="Which pupil did you mean?",
        body=[
            _heading("Which pupil did you mean?"),
            TextBlock(text="Nothing is recorded until the name is matched to one pupil of the register.",
                      is_subtle=True, spacing="None"),
            TextBlock(text=question),
            InputChoiceSet(id="choice", label=f"Pupil for \u201c{typed[:MAX_NAME]}\u201d", choices=choices,
                           style="expanded", is_required=True, error_message="Choose one, or None of these."),
        ],
        actions=[_execute("Record it", DO_NOT_PHOTOGRAPH_CHOOSE_VERB,
                          {"typed": typed[:MAX_NAME], "note": note[:MAX_NOTE]}, style="positive")],
    )


def do_not_photograph_not_found_card(typed: str, *, nobody_close: bool) -> AdaptiveCard:
    """The name is not in the register: nothing recorded, and what to do instead."""
    first = (f"**{escape_markdown(typed, one_line=True)}** is not in the consent register"
             + (", and nobody has a similar name." if nobody_close else "."))
    return AdaptiveCard(
        fallback_text="That name is not in the consent register: nothing was recorded.",
        body=[
            _heading("Not recorded", color="Attention"),
            TextBlock(text=first),
            TextBlock(text="Nothing was recorded. Check the spelling (first name and surname, with the class in "
                           "brackets if you know it) and type **do not photograph** again. If the pupil is new "
                           "or the name is right, tell the school office today, so that they add the pupil and "
                           "the request to the register."),
            TextBlock(text=f"Until then, respect the wishes: {_WISHES}", is_subtle=True),
        ],
    )


def do_not_photograph_empty_register_card() -> AdaptiveCard:
    """No register has been imported: the pupil cannot be found, and what to do."""
    return AdaptiveCard(
        fallback_text="The consent register is empty: nothing was recorded.",
        body=[
            _heading("Not recorded", color="Attention"),
            TextBlock(text="The consent register is empty (nothing has been imported yet), so I cannot find the "
                           "pupil and nothing was recorded. Tell the school office today, so that the request is "
                           "kept with the pupil's record; the data admin imports the register from the MIS."),
            TextBlock(text=f"Until then, respect the wishes: {_WISHES}", is_subtle=True),
        ],
    )


def do_not_photograph_recorded_card(pupil: Pupil, *, recorded_at: datetime, told: Sequence[str],
                                    not_told: Sequence[str], directory_down: bool,
                                    already: datetime | None = None, calendar: SchoolCalendar) -> AdaptiveCard:
    """The member of staff's confirmation: recorded at once, and who was told."""
    body: list[Element] = [
        _heading("Recorded: do not photograph or film", color="Good"),
        TextBlock(text=f"{_pupil_line(pupil)}, pupil id {escape_markdown(pupil.pupil_id, one_line=True)}"),
    ]
    if already is not None:
        body.append(TextBlock(text=f"This was already recorded on {school_time(already, calendar)} and is still open: "
                                   "nothing new was added."))
    else:
        body.append(TextBlock(text=f"Recorded on {school_time(recorded_at, calendar)}. From now on every "
                                   "**can I post this photo?** check says NO for this pupil."))
    if already is not None:
        pass  # the data admin was told when it was first recorded
    elif told:
        names = ", ".join(escape_markdown(n, one_line=True) for n in told)
        body.append(TextBlock(text=f"The data admin has been told: {names}. They will update the MIS."))
    if directory_down:
        body.append(TextBlock(
            color="Warning",
            text="I could not find out who the data admin is just now, so nobody has been told yet. Please tell "
                 "the school office yourself; the request is recorded and the office will see it under "
                 "**photo requests**.",
        ))
    elif not_told:
        names = ", ".join(escape_markdown(n, one_line=True) for n in not_told)
        body.append(TextBlock(
            color="Warning",
            text=f"I could not tell {names}: they have not opened Policy Bot in Teams. Please tell the school "
                 "office yourself; the request is recorded and shows under **photo requests**.",
        ))
    elif not told:
        body.append(TextBlock(
            color="Warning",
            text="No data admin is set up for the consent register, so nobody has been told. Please tell the "
                 "school office yourself; the request is recorded.",
        ))
    body.append(TextBlock(text=f"The policy says: {_WISHES}", is_subtle=True))
    return AdaptiveCard(fallback_text="Recorded: do not photograph or film.", body=body)


# --- Do not photograph: the data admin ---------------------------------------------------------------


@dataclass(frozen=True)
class RequestView:
    """One open request as the data admin (or DSL) sees it."""

    request_id: int
    pupil_id: str
    pupil: Pupil | None  # None: no longer in the current register
    recorded_by: str  # a name
    recorded_at: datetime
    note: str


def _request_items(view: RequestView, calendar: SchoolCalendar) -> list[Element]:
    who = (f"{_pupil_line(view.pupil)}" if view.pupil is not None
           else "A pupil no longer in the current register")
    pairs = [
        ("Pupil id", view.pupil_id),
        ("Class", view.pupil.class_label if view.pupil is not None else ""),
        ("Recorded by", view.recorded_by),
        ("When", school_time(view.recorded_at, calendar)),
        ("Note", view.note),
    ]
    return [TextBlock(text=who, weight="Bolder"), _facts(pairs)]


def _clear_button(pupil_id: str, *, in_list: bool = False) -> ActionExecute:
    data: dict[str, Any] = {"pupilId": pupil_id}
    if in_list:
        data["list"] = True  # answer with the list again
    return _execute("Done: updated in the MIS", DO_NOT_PHOTOGRAPH_CLEAR_VERB, data, style="positive")


def do_not_photograph_request_card(view: RequestView, *, calendar: SchoolCalendar) -> AdaptiveCard:
    """Sent to the data admin's personal chat: a request to carry into the MIS, with the button that clears it."""
    return AdaptiveCard(
        fallback_text="A pupil asked not to be photographed or filmed: update the MIS.",
        body=[
            _heading("Do not photograph or film: " + _MIS),
            *_request_items(view, calendar),
            TextBlock(text="Every photo check already says NO for this pupil. Please update the MIS (the consent "
                           "register's source), then press **Done** so the request is closed."),
            TextBlock(text=f"The policy says: {_WISHES}", is_subtle=True),
        ],
        actions=[_clear_button(view.pupil_id)],
    )


def do_not_photograph_cleared_card(view: RequestView | None, *, cleared_by: str, cleared_at: datetime,
                                   pupil_id: str, already: bool, calendar: SchoolCalendar) -> AdaptiveCard:
    """What replaces the data admin's card once the request is closed."""
    body: list[Element] = [_heading("Closed: updated in the MIS", color="Good")]
    if view is not None:
        body += _request_items(view, calendar)
    else:
        body.append(TextBlock(text=f"Pupil id {escape_markdown(pupil_id, one_line=True)}"))
    if already:
        body.append(TextBlock(text="There was no open request for this pupil any more: someone closed it already."))
    else:
        body.append(TextBlock(text=f"Closed by {escape_markdown(cleared_by, one_line=True)} on "
                                   f"{school_time(cleared_at, calendar)}. Photo checks now follow the register alone, "
                                   "so make sure the MIS export marks this pupil before the next import."))
    return AdaptiveCard(fallback_text="Closed: updated in the MIS.", body=body)


def photo_requests_card(views: Sequence[RequestView], *, can_clear: bool, calendar: SchoolCalendar) -> AdaptiveCard:
    """`photo requests`: the open requests, oldest first (data admin and DSL)."""
    body: list[Element] = [_heading("Do not photograph: open requests")]
    if not views:
        body.append(TextBlock(text="There are no open requests."))
        return AdaptiveCard(fallback_text="No open do-not-photograph requests.", body=body)
    body.append(TextBlock(text=f"{len(views)} open, oldest first. Every photo check says NO for these pupils until "
                               "the request is closed.", is_subtle=True, spacing="None"))
    for view in views:
        items = _request_items(view, calendar)
        if can_clear:
            items.append(ActionSet(actions=[_clear_button(view.pupil_id, in_list=True)]))
        body.append(Container(items=items, separator=True, spacing="Medium"))
    if not can_clear:
        body.append(TextBlock(text="Only the data admin closes requests, once the MIS is updated.", is_subtle=True))
    return AdaptiveCard(fallback_text="Open do-not-photograph requests.", body=body)


# --- A pupil's record (data admin, DSL) -------------------------------------------------------------------

_STATE_WORDS = {
    ConsentState.GRANTED: "Granted",
    ConsentState.REFUSED: "Refused",
    ConsentState.NOT_ASKED: "Not asked (counts as no)",
    ConsentState.WITHDRAWN: "Withdrawn",
}


def _consent_words(entry: RegisterEntry, purpose: Purpose) -> str:
    record = entry.consent_for(purpose.key)
    words = _STATE_WORDS[record.state]
    if record.withdrawn_on is not None:
        day = record.withdrawn_on
        words += f" on {day:%a} {day.day} {day:%b %Y}"
    return words


def pupil_consent_card(entries: Sequence[RegisterEntry], purposes: Sequence[Purpose],
                       requests: Sequence[RequestView], *, version: int, typed: str,
                       calendar: SchoolCalendar) -> AdaptiveCard:
    """`pupil consent <name>`: what the register holds for a pupil, with the do-not-publish reason and any open
    do-not-photograph request. For the data admin and the DSL only (checked by the caller); several entries when
    the name is shared."""
    body: list[Element] = [_heading("Consent record")]
    if len(entries) > 1:
        called = escape_markdown(typed, one_line=True)
        body.append(TextBlock(text=f"{len(entries)} pupils are called **{called}**: each is below."))
    for entry in entries:
        pupil = entry.pupil
        pairs = [("Pupil id", pupil.pupil_id)] + [(p.title.capitalize(), _consent_words(entry, p)) for p in purposes]
        if entry.do_not_publish:
            pairs.append(("Do not publish", "Yes"))
            pairs.append(("Reason", entry.do_not_publish_reason or "(none recorded in the MIS)"))
        else:
            pairs.append(("Do not publish", "No"))
        items: list[Element] = [TextBlock(text=_pupil_line(pupil), weight="Bolder"), _facts(pairs)]
        for view in (v for v in requests if v.pupil_id == pupil.pupil_id):
            items.append(TextBlock(
                text="**Do not photograph** (open request): recorded by "
                     f"{escape_markdown(view.recorded_by, one_line=True)}, "
                     f"{school_time(view.recorded_at, calendar)}"
                     + (f": {escape_markdown(view.note)}" if view.note else ""),
                color="Attention", spacing="Small"))
        body.append(Container(items=items, separator=True, spacing="Medium"))
    body.append(TextBlock(
        text=f"From register version {version}. Restricted: the do-not-publish reason is for the data admin and the "
             "Designated Safeguarding Lead only. Please don't forward it or copy it into a channel.",
        is_subtle=True, size="Small", spacing="Medium"))
    return AdaptiveCard(fallback_text="A pupil's consent record (restricted).", body=body)


# --- The register: import, versions --------------------------------------------------------------------


@dataclass(frozen=True)
class VersionView:
    version: int
    imported_at: datetime
    imported_by: str  # a name
    source_name: str
    pupil_count: int
    pupils_kept: bool


def _version_line(view: VersionView, calendar: SchoolCalendar) -> str:
    source = f", from {escape_markdown(view.source_name, one_line=True)}" if view.source_name else ""
    return (f"version {view.version}: {view.pupil_count} pupils, imported {school_time(view.imported_at, calendar)} by "
            f"{escape_markdown(view.imported_by, one_line=True)}{source}")


def _activate_button(version: int, title: str) -> ActionExecute:
    return _execute(title, CONSENT_REGISTER_ACTIVATE_VERB, {"version": version})


def register_imported_card(current: VersionView, previous: VersionView | None,
                           warnings: Sequence[str], *, calendar: SchoolCalendar) -> AdaptiveCard:
    """A CSV import succeeded: it is the register now; the previous one is kept, with an undo button."""
    body: list[Element] = [
        _heading("Consent register imported", color="Good"),
        TextBlock(text=f"Imported **{current.pupil_count} pupils** as version {current.version}. Every photo check "
                       "uses it from now on."),
    ]
    if previous is not None:
        body.append(TextBlock(text=f"The previous register is kept: {_version_line(previous, calendar)}."))
    if warnings:
        body.append(TextBlock(text="Warnings (imported anyway):", weight="Bolder"))
        body.append(TextBlock(text=_bullets([escape_markdown(w) for w in warnings[:PROBLEMS_SHOWN]])))
        if len(warnings) > PROBLEMS_SHOWN:
            body.append(TextBlock(text=f"and {len(warnings) - PROBLEMS_SHOWN} more"))
    body.append(TextBlock(text="Do not photograph requests recorded by staff stay open until you close them.",
                          is_subtle=True))
    actions = [_activate_button(previous.version, "Undo: go back to the previous register")] if previous else None
    return AdaptiveCard(fallback_text=f"Consent register imported: {current.pupil_count} pupils.", body=body,
                        actions=actions)


def register_activated_card(current: VersionView, previous: VersionView | None, *,
                            calendar: SchoolCalendar) -> AdaptiveCard:
    """An earlier version is current again; offer to go back."""
    body: list[Element] = [
        _heading("Consent register changed", color="Good"),
        TextBlock(text=f"The current register is now {_version_line(current, calendar)}. Every photo check uses it "
                       "from now on."),
    ]
    if previous is not None:
        body.append(TextBlock(text=f"Kept: {_version_line(previous, calendar)}."))
    actions = [_activate_button(previous.version, f"Go back to version {previous.version}")] if previous else None
    return AdaptiveCard(fallback_text="Consent register changed.", body=body, actions=actions)


def register_rejected_card(file_name: str, rejected: ImportRejected, current: VersionView | None, *,
                           calendar: SchoolCalendar) -> AdaptiveCard:
    """A CSV import was refused: nothing changed, the problems with their line numbers, what to do."""
    body: list[Element] = [
        _heading("Not imported: nothing changed", color="Attention"),
        TextBlock(text=f"**{escape_markdown(file_name, one_line=True)}** has {rejected.error_count} "
                       f"problem{'s' if rejected.error_count != 1 else ''}, so none of it was imported."),
        TextBlock(text=(f"Photo checks still use the current register, {_version_line(current, calendar)}." if current
                        else "There is still no consent register: every photo check says NO until one is imported.")),
    ]
    shown = list(rejected.errors[:PROBLEMS_SHOWN])
    body.append(TextBlock(text=_bullets([escape_markdown(str(p)) for p in shown])))
    if rejected.error_count > len(shown):
        body.append(TextBlock(text=f"and {rejected.error_count - len(shown)} more"))
    body.append(TextBlock(text="What to do: fix these lines in the export (line 1 is the header), or export it again "
                               "from the MIS, and send the file here again. Nothing is imported until every row "
                               "can be read."))
    return AdaptiveCard(fallback_text="Consent register not imported: nothing changed.", body=body)


def consent_register_card(current: VersionView | None, earlier: Sequence[VersionView], *, open_requests: int,
                          can_activate: bool, source: str, calendar: SchoolCalendar) -> AdaptiveCard:
    """`consent register`: the current version, open requests, earlier versions kept, and how to update it."""
    body: list[Element] = [_heading("Consent register")]
    if current is None:
        body.append(TextBlock(text="No register has been imported yet: every photo check says NO until one is."))
    else:
        body.append(_facts([
            ("Current", f"version {current.version}"),
            ("Imported", school_time(current.imported_at, calendar)),
            ("By", current.imported_by),
            ("From", current.source_name),
            ("Pupils", str(current.pupil_count)),
        ]))
    body.append(TextBlock(text=f"Open do not photograph requests: **{open_requests}** (type **photo requests**)."))
    kept = [v for v in earlier if v.pupils_kept]
    if kept:
        body.append(TextBlock(text="Earlier versions kept:", weight="Bolder", spacing="Medium"))
        for view in kept:
            items: list[Element] = [TextBlock(text=_version_line(view, calendar))]
            if can_activate:
                items.append(ActionSet(actions=[_activate_button(view.version, "Make this the current register")]))
            body.append(Container(items=items))
    if source == "sharepoint":
        how = ("It is read from the school's SharePoint list; the data admin can type **update consent register** "
               "to read it now.")
    else:
        how = ("To update it, the data admin exports the consent register from the MIS as a CSV file and sends the "
               "file to me here in our personal chat.")
    body.append(TextBlock(text=how, is_subtle=True, spacing="Medium"))
    return AdaptiveCard(fallback_text="Consent register.", body=body)
