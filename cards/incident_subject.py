"""Who a report is about (issue 15, gap 2): the form's inputs and the "is this report about them?" card.

- ``subject_inputs``: staff chosen with the Teams people picker (``choices.data`` from the directory; where a client
  has no picker, the staff the bot knows as static choices) and anyone else as typed.
- ``subject_confirm_card``: when what the reporter typed names someone who holds a role in the routing (the Head
  Teacher, the DSL, a member of SLT ...), the report is not sent until the reporter says, for each, whether it is
  about them. The card carries the whole form in its button (nothing is kept on the server until it is sent); the
  answer is checked on the server, and both answers are recorded in the report's chronology.

Every name on these cards comes from the directory or from the reporter's own typing and goes through
``escape_markdown``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from cards.base import (
    Action,
    ActionSubmit,
    AdaptiveCard,
    Choice,
    Container,
    Element,
    InputChoiceSet,
    InputText,
    TextBlock,
    escape_markdown,
)
from cards.incidents import ReportPayload, Verb, _execute, _heading, _para
from domain.incident_routing import MAX_ASKED, NamedPerson, role_line
from domain.incidents import MAX_ABOUT_OTHERS

PEOPLE_PICKER = {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
_MAX_ASKED_TEXT = MAX_ASKED * 65  # object ids, comma separated


def subject_inputs(chosen: str, others: str, staff: Sequence[tuple[str, str]]) -> list[Element]:
    """The form's "who is it about?" inputs: staff from the directory (people picker) and anyone else as text.

    Args:
        chosen: the staff already chosen (comma-separated ids), e.g. when a form comes back with a problem.
        others: what was typed about anyone else.
        staff: (Entra object id, name) of the staff the bot knows: the choices where the people picker is missing.
    """
    choices = [Choice(title=name, value=aad) for aad, name in sorted(staff, key=lambda person: person[1].lower())]
    known = {choice.value.lower() for choice in choices}
    for value in (part.strip() for part in chosen.split(",") if part.strip()):
        if value.lower() not in known:
            choices.append(Choice(title="Chosen in Teams", value=value))
    return [
        Container(separator=True, spacing="Medium", items=[
            _para("**Who is it about?**"),
            _para("A report is never sent to, or shown to, anyone it is about: if it is about the Head Teacher, the "
                  "DSL or a member of SLT, it goes around them.", is_subtle=True, size="Small", spacing="None"),
        ]),
        InputChoiceSet(
            id="about_staff", label="Members of staff it is about (if any)", is_multi_select=True,
            placeholder="Type a name", value=chosen or None, choices=choices,
            choices_data=PEOPLE_PICKER,
        ),
        InputText(id="about_others", label="Anyone else it is about (parents, people outside school)",
                  max_length=MAX_ABOUT_OTHERS, value=others or None),
    ]


def _not_blank(value: object) -> object:
    return None if value in ("", None) else value


_Answer = Annotated[Literal["yes", "no"] | None, BeforeValidator(_not_blank)]


class _Answers(BaseModel):
    """The people asked about (object ids, in order) and an answer for each (``about_1`` ...)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    asked: Annotated[str, Field(max_length=_MAX_ASKED_TEXT, pattern=r"^[0-9A-Za-z,\-]*$")] = ""
    about_1: _Answer = None
    about_2: _Answer = None
    about_3: _Answer = None
    about_4: _Answer = None

    def asked_ids(self) -> list[str]:
        return [part for part in self.asked.split(",") if part][:MAX_ASKED]

    def answers(self) -> list[Literal["yes", "no"] | None]:
        return [self.about_1, self.about_2, self.about_3, self.about_4][: len(self.asked_ids())]

    @property
    def complete(self) -> bool:
        return all(given is not None for given in self.answers())

    def merged(self, form: Mapping[str, Any]) -> dict[str, Any]:
        """The form's data with the answers added: "yes" to who it is about (and confirmed), "no" to who it is not."""
        def ids(key: str) -> list[str]:
            value = form.get(key)
            return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else []

        pairs = list(zip(self.asked_ids(), self.answers(), strict=False))
        yes = [aad for aad, given in pairs if given == "yes"]
        no = [aad for aad, given in pairs if given == "no"]
        return {**form, "about_staff": ",".join(dict.fromkeys([*ids("about_staff"), *yes])),
                "not_about": ",".join(dict.fromkeys([*ids("not_about"), *no])),
                "confirmed_about": ",".join(dict.fromkeys([*ids("confirmed_about"), *yes]))}


class SubjectAnswers(_Answers):
    """The answers as "Report to SLT" on a message sends them back (the task module's ``data``)."""


class SubjectConfirmPayload(ReportPayload, _Answers):
    """``incident_subject_confirm``: "Send report" on ``subject_confirm_card``: the whole form, the people asked
    about (object ids, in order) and an answer for each (``about_1`` ...)."""

    def form_data(self) -> dict[str, Any]:
        """The report form's data, without the questions of this card."""
        data = self.model_dump(mode="json", exclude={"asked", "about_1", "about_2", "about_3", "about_4"})
        return {key: value for key, value in data.items() if value is not None}


def subject_confirm_card(form: Mapping[str, Any], asked: Sequence[NamedPerson], *,
                         problem: str | None = None, task_module: bool = False) -> AdaptiveCard:
    """Before sending: "Is this report about …?" for each role holder the reporter's words name.

    Args:
        form: the report form's data (draft, risk, category and every input), carried in the button.
        asked: the people to ask about (at most ``MAX_ASKED``).
        problem: what to fix (an answer missing).
        task_module: for "Report to SLT" on a message: an ``Action.Submit`` (a task module's button) that sends the
            form back to the message action, not a chat verb.
    """
    asked = list(asked)[:MAX_ASKED]
    body: list[Element] = [
        _heading("Before it is sent: who is it about?"),
        _para("Your report names someone who would normally receive reports like it. Nobody is ever sent a report "
              "about themselves: if it is about them, it goes around them (about the Head Teacher: to the Chair of "
              "Governors; about anyone else: to the Head Teacher only, and never to the SLT channel).",
              spacing="None", is_subtle=True),
    ]
    if problem:
        body.append(_para(escape_markdown(problem), color="Attention"))
    for index, person in enumerate(asked, 1):
        name = escape_markdown(person.name, one_line=True)
        body.append(Container(separator=True, spacing="Medium", items=[
            TextBlock(text=f"**{name}** ({role_line(person.roles)})", wrap=True),
            InputChoiceSet(
                id=f"about_{index}", label=f"Is this report about {name}?", style="expanded", is_required=True,
                error_message="Say whether the report is about them.",
                choices=[Choice(title="Yes, it is about them", value="yes"),
                         Choice(title="No, it only mentions them", value="no")],
            ),
        ]))
    data = {**dict(form), "asked": ",".join(person.aad_object_id for person in asked)}
    send: Action = ActionSubmit(title="Send report", data=data, style="positive") if task_module \
        else _execute("Send report", Verb.CONFIRM_SUBJECTS, data, style="positive")
    return AdaptiveCard(
        fallback_text="Before it is sent: is this report about someone it names?", body=body, actions=[send],
    )


__all__ = ["PEOPLE_PICKER", "SubjectAnswers", "SubjectConfirmPayload", "subject_confirm_card", "subject_inputs"]
