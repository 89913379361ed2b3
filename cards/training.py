"""Cards for social media training records (issue 17): SLT's form, the record made, and the follow-up SLT get for a
runner approved with training to follow. One column, no fixed widths (a 390 px phone shows it whole)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from cards.accounts import STAFF_SEARCH
from cards.base import (
    ActionExecute,
    ActionSubmit,
    AdaptiveCard,
    Choice,
    Element,
    InputChoiceSet,
    InputDate,
    InputText,
    TextBlock,
    escape_markdown,
)
from domain.training import MAX_COURSE_CHARS, TrainingRecord

TRAINING_SUBMIT_VERB: Final = "training_submit"
_POLICY_TRAINING: Final = ("The policy: \u201cthe SLT must be satisfied that anyone running a social media account on "
                           "behalf of the school has read and understood this policy and received appropriate "
                           "training.\u201d")


class TrainingPayload(BaseModel):
    """What the form sends (every value checked again by the service)."""

    model_config = ConfigDict(extra="ignore")

    person: str = Field(default="", max_length=200)
    trained_on: str = Field(default="", max_length=40)
    course: str = Field(default="", max_length=2000)


def training_form_card(people: Sequence[tuple[str, str]], *, values: Mapping[str, str] | None = None,
                       problem: str | None = None) -> AdaptiveCard:
    """SLT's form: who (a member of staff from the directory), when, what."""
    values = values or {}
    chosen = values.get("person") or None
    body: list[Element] = [
        TextBlock(text="Record social media training", weight="Bolder", size="Medium", style="heading"),
        TextBlock(text=escape_markdown(_POLICY_TRAINING), size="Small", is_subtle=True),
    ]
    if problem:
        body.append(TextBlock(text=escape_markdown("⚠️ " + problem), weight="Bolder"))
    body += [
        InputChoiceSet(id="person", label="Who was trained", style="filtered", value=chosen,
                       choices=[Choice(title=name, value=aad) for aad, name in people],
                       placeholder="Type a name", choices_data=None if chosen else STAFF_SEARCH),
        InputDate(id="trained_on", label="When", value=values.get("trained_on") or None),
        InputText(id="course", label="What course or topic", max_length=MAX_COURSE_CHARS,
                  value=values.get("course") or None, placeholder="e.g. Online safety: social media for staff"),
    ]
    button = ActionExecute(title="Record training", verb=TRAINING_SUBMIT_VERB, style="positive",
                           fallback=ActionSubmit(title="Record training", data={"verb": TRAINING_SUBMIT_VERB}))
    return AdaptiveCard(body=body, actions=[button], fallback_text="Record social media training")


def training_recorded_card(record: TrainingRecord, when: str, *, followups_closed: int = 0) -> AdaptiveCard:
    title = f"✔ Training recorded for {record.name}"
    lines = [f"{record.course}, on {record.trained_on.strftime('%-d %B %Y')}.",
             f"Recorded by {record.recorded_by_name}, {when}. Business cases naming {record.name} show it."]
    if followups_closed:
        lines.append("The follow-up about their training has stopped.")
    return AdaptiveCard(body=[TextBlock(text=escape_markdown(title), weight="Bolder", size="Medium"),
                              *[TextBlock(text=escape_markdown(line)) for line in lines]],
                        fallback_text=title)


def training_followup_card(runner: str, reference: str, since: str) -> AdaptiveCard:
    """To SLT, until the runner's training is recorded."""
    title = f"Training to follow: {runner}"
    return AdaptiveCard(
        body=[TextBlock(text=escape_markdown(title), weight="Bolder", size="Medium", style="heading"),
              TextBlock(text=escape_markdown(
                  f"The Head Teacher approved {reference} on {since} with {runner} as a runner, training to follow. "
                  "No social media training is recorded for them yet.")),
              TextBlock(text=escape_markdown(_POLICY_TRAINING), size="Small", is_subtle=True),
              TextBlock(text=escape_markdown(
                  f"Once trained, type: training {runner} <date> <what>. This reminder stops then."), size="Small")],
        fallback_text=title,
    )


APPROVE_ANYWAY_TITLE: Final = "Approve anyway: training to follow"


def untrained_confirm_card(title: str, reference: str, request_id: int, round_: int, names: Sequence[str],
                           comment: str = "") -> AdaptiveCard:
    """The Head Teacher approved a case whose runners have no recorded training: confirm, or go back."""
    who = ", ".join(names)
    body: list[Element] = [
        TextBlock(text=escape_markdown(f"{reference} · {title}"), size="Small", is_subtle=True),
        TextBlock(text=escape_markdown(f"No social media training is recorded for {who}"), weight="Bolder",
                  size="Medium", style="heading"),
        TextBlock(text=escape_markdown(_POLICY_TRAINING), size="Small"),
        TextBlock(text=escape_markdown(
            "Approve anyway and SLT will be reminded until their training is recorded, or go back to the request."
        )),
    ]
    data = {"request_id": request_id, "round": round_, "decision": "approve", "confirmed": True,
            "comment": comment}
    back = {"request_id": request_id, "round": round_}
    return AdaptiveCard(
        body=body, fallback_text=f"No training recorded for {who}",
        actions=[
            ActionExecute(title=APPROVE_ANYWAY_TITLE, verb="approval_decide", data=data, style="positive",
                          fallback=ActionSubmit(title=APPROVE_ANYWAY_TITLE, data={"verb": "approval_decide", **data})),
            ActionExecute(title="Back to the request", verb="approval_refresh", data=back,
                          fallback=ActionSubmit(title="Back to the request", data={"verb": "approval_refresh",
                                                                                  **back})),
        ],
    )
