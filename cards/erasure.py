"""Cards of erasure and rectification (the DPO) and of an account's closure.

- ``erase_card``: what ``erase <person> because <reason>`` would do, kind of record by kind of record: what is erased
  or anonymised, what is kept and why (the law or guidance that keeps it), and one confirm button.
- ``erased_card``: what the confirm did (it replaces the card, so a second click finds nothing to press).
- ``correct_card``: the names recorded for a person, each in a box to correct, a reason, and one button.
- ``corrected_card``: what the correction changed (never the old or the new value: the record shows the new one).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cards.base import (
    ActionExecute,
    ActionSet,
    AdaptiveCard,
    Container,
    Element,
    Fact,
    FactSet,
    InputText,
    TextBlock,
    escape_markdown,
)
from domain.erasure import (
    NAME_MAX,
    NAME_TITLES,
    NOT_CORRECTED,
    REASON_MAX,
    Action,
    Correctable,
    ErasurePlan,
)

ERASE_CONFIRM_VERB = "erase_confirm"
CORRECT_CONFIRM_VERB = "correct_confirm"
_SHOWN = 8  # references per group; the rest are counted
_FIELD = re.compile(r"^f\d{1,2}$")
_HEADS = {Action.ANONYMISE: "Anonymised", Action.DELETE: "Erased", Action.REDACT: "Redacted", Action.KEEP: "Kept"}
_WILL = {Action.ANONYMISE: "Anonymise", Action.DELETE: "Erase", Action.REDACT: "Redact", Action.KEEP: "Keep"}


class EraseConfirm(BaseModel):
    """The erase card's button: which prepared erasure (``data_rights_requests``) to carry out."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: int = Field(ge=1, le=2**31 - 1)


class CorrectionForm(BaseModel):
    """The correct card's button: the prepared correction, the reason and the boxes (``f1``, ``f2`` ...) as typed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    request_id: int = Field(ge=1, le=2**31 - 1)
    reason: str = Field(default="", max_length=REASON_MAX)
    values: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _boxes(cls, data: Any) -> Any:
        if isinstance(data, dict) and "values" not in data:
            boxes = {k: v for k, v in data.items() if isinstance(k, str) and _FIELD.match(k)}
            if any(not isinstance(v, str) or len(v) > NAME_MAX * 2 for v in boxes.values()):
                raise ValueError("a box's value is not text of a name's length")
            return {**data, "values": boxes}
        return data


def _execute(title: str, verb: str, data: dict[str, Any], *, style: str | None = None) -> ActionExecute:
    return ActionExecute.with_fallback(title, verb, data, style=style)


def _groups(plan: ErasurePlan, heads: dict[Action, str]) -> list[Element]:
    body: list[Element] = []
    for title, action, why, found in plan.groups():
        refs = sorted({d.reference for d in found if d.reference})
        shown = ", ".join(refs[:_SHOWN]) + (f" and {len(refs) - _SHOWN} more" if len(refs) > _SHOWN else "")
        items: list[Element] = [
            TextBlock(text=f"**{heads[action]}: {escape_markdown(title)}** ({len(found)})", wrap=True,
                      color="Attention" if action is not Action.KEEP else None),
            TextBlock(text=escape_markdown(why), wrap=True, size="Small", spacing="None"),
        ]
        if shown:
            items.append(TextBlock(text=escape_markdown(shown), wrap=True, size="Small", is_subtle=True,
                                   spacing="None"))
        body.append(Container(items=items, separator=True, spacing="Small"))
    return body


def _counts(plan: ErasurePlan, done: bool) -> FactSet:
    counts = plan.counts()
    names = _HEADS if done else _WILL
    return FactSet(facts=[Fact(title=names[a], value=str(counts[a.value]))
                          for a in (Action.DELETE, Action.ANONYMISE, Action.REDACT, Action.KEEP)])


def erase_card(plan: ErasurePlan, *, label: str, reference: str, request_id: int, reason: str) -> AdaptiveCard:
    """What the erasure would do, and the one button that does it."""
    body: list[Element] = [
        TextBlock(text=f"Erase {escape_markdown(label, one_line=True)}?", weight="Bolder", size="Medium",
                  style="heading"),
        TextBlock(text=f"{reference} · because {escape_markdown(reason)}", wrap=True, is_subtle=True,
                  spacing="None"),
        _counts(plan, done=False),
    ]
    if not plan.decisions:
        body.append(TextBlock(text="No record names this person.", wrap=True))
    body += _groups(plan, _WILL)
    body.append(TextBlock(
        text="Safeguarding reports, allegations, breach reports, the audit trail and records on legal hold are never "
        "erased by the bot (UK GDPR Art. 17(3)). Erased and anonymised records leave a tombstone (reference, kind, "
        "dates, why; no names). Messages already in Teams and backups are outside the bot. Nothing happens unless "
        "you confirm; this card expires in 24 hours.", wrap=True, size="Small", is_subtle=True, spacing="Medium"))
    actions = [_execute("Erase as shown", ERASE_CONFIRM_VERB, {"request_id": request_id}, style="destructive")] \
        if plan.acting() else []
    if actions:
        body.append(ActionSet(actions=actions))
    return AdaptiveCard(fallback_text=f"Erasure {reference}", body=body)


def erased_card(plan: ErasurePlan, *, label: str, reference: str) -> AdaptiveCard:
    """What the confirm did (replaces the erase card)."""
    body: list[Element] = [
        TextBlock(text=f"Erasure {reference}: done", weight="Bolder", size="Medium", style="heading"),
        TextBlock(text=f"The records naming {escape_markdown(label, one_line=True)}, as below. The erasure is in the "
                  "audit trail.", wrap=True, spacing="None"),
        _counts(plan, done=True),
    ]
    body += _groups(plan, _HEADS)
    return AdaptiveCard(fallback_text=f"Erasure {reference} done", body=body)


def correct_card(fields: Sequence[Correctable], *, label: str, reference: str, request_id: int) -> AdaptiveCard:
    """The names recorded for a person, each to correct, the reason, and the button."""
    body: list[Element] = [
        TextBlock(text=f"Correct {escape_markdown(label, one_line=True)}", weight="Bolder", size="Medium",
                  style="heading"),
        TextBlock(text=f"{reference} · change a box and press Correct: the name changes everywhere it is recorded "
                  "for this person.", wrap=True, is_subtle=True, spacing="None"),
    ]
    if not fields:
        body.append(TextBlock(text="The bot records no name for this person that it can correct.", wrap=True))
    for field in fields:
        body.append(InputText(id=field.field_id, label=f"{NAME_TITLES[field.kind]} ({field.count} record"
                              f"{'s' if field.count != 1 else ''}: {', '.join(field.where)})", value=field.value,
                              max_length=NAME_MAX, is_required=True, error_message="Give the name."))
    body.append(TextBlock(text=escape_markdown(NOT_CORRECTED), wrap=True, size="Small", is_subtle=True))
    if fields:
        body.append(InputText(id="reason", label="Why (kept with the correction)", max_length=REASON_MAX,
                              is_required=True, error_message="Give the reason.", is_multiline=True))
        body.append(ActionSet(actions=[_execute("Correct", CORRECT_CONFIRM_VERB, {"request_id": request_id},
                                                style="positive")]))
    return AdaptiveCard(fallback_text=f"Correction {reference}", body=body)


def corrected_card(*, label: str, reference: str, changed: Sequence[tuple[str, int]]) -> AdaptiveCard:
    """What the correction changed: which kind of name, in how many records (never the values)."""
    body: list[Element] = [
        TextBlock(text=f"Correction {reference}: done", weight="Bolder", size="Medium", style="heading"),
        TextBlock(text=f"Names recorded for {escape_markdown(label, one_line=True)}.", wrap=True, spacing="None"),
    ]
    if not changed:
        body.append(TextBlock(text="Nothing was different from what is recorded: nothing changed.", wrap=True))
    else:
        body.append(FactSet(facts=[Fact(title=escape_markdown(title), value=f"{count} record"
                                        f"{'s' if count != 1 else ''}") for title, count in changed]))
        body.append(TextBlock(text="The old values are not kept: the audit trail says which names were corrected, "
                              "in how many records, by whom and when; the reason stays with the correction.",
                              wrap=True, size="Small", is_subtle=True))
    return AdaptiveCard(fallback_text=f"Correction {reference} done", body=body)
