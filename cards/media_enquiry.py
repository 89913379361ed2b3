"""The media enquiry's own cards (issue 15, gap 7): its short form, its part of the details card, and the policy's
instruction on the receipt.

The form asks who is asking, their organisation, how to reach them, their deadline and what it is about, under the
policy's own words (Behaviour: staff inform SLT and do not respond directly). It has none of the abuse form's
questions (platform, link, blocked, deleted, screenshots). Everything typed is shown back through
``escape_markdown``: an email address or web address in the contact details is text, never a link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BeforeValidator, Field

from cards.base import (
    AdaptiveCard,
    Container,
    Element,
    Fact,
    FactSet,
    InputDate,
    InputText,
    escape_markdown,
)
from cards.incidents import DslToldPayload, Verb, _execute, _flow_data, _heading, _para
from domain.incidents import CategoryRule, DslTold
from domain.media_enquiry import (
    INSTRUCTION,
    MAX_ABOUT,
    MAX_CONTACT,
    MAX_ENQUIRER,
    MAX_ORGANISATION,
    POLICY_QUOTE,
    POLICY_SECTION,
    MediaEnquiry,
)

_GUARD = 4  # a payload up to this many times an input's limit gets a clear answer in the form; beyond, it is refused


def _none_is_blank(value: object) -> object:
    return "" if value is None else value


_Text = Annotated[str, BeforeValidator(_none_is_blank)]


class MediaEnquiryPayload(DslToldPayload):
    """``incident_media_enquiry``: "Send to SLT" on ``media_enquiry_form_card``. The form's inputs only: any other key
    (a crafted ``actions_taken``, ``platform``, ``link``) is ignored, never stored."""

    enquirer: _Text = Field(default="", max_length=MAX_ENQUIRER * _GUARD)
    organisation: _Text = Field(default="", max_length=MAX_ORGANISATION * _GUARD)
    contact: _Text = Field(default="", max_length=MAX_CONTACT * _GUARD)
    deadline_date: _Text = Field(default="", max_length=40)
    deadline_time: _Text = Field(default="", max_length=40)
    about: _Text = Field(default="", max_length=MAX_ABOUT * _GUARD)

    def inputs(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in ("enquirer", "organisation", "contact", "deadline_date",
                                                       "deadline_time", "about")}


def instruction_block() -> Container:
    """The policy's words, verbatim with its section, and what they mean for the person who took the enquiry."""
    return Container(style="warning", items=[
        _para(f"**{INSTRUCTION}**"),
        _para(f"Policy ({POLICY_SECTION}): \u201c{POLICY_QUOTE}\u201d", size="Small", spacing="Small"),
    ])


def _value(values: Mapping[str, str], name: str, limit: int) -> str | None:
    return values.get(name, "")[:limit] or None


def media_enquiry_form_card(draft: str, rule: CategoryRule, risk: bool, dsl_told: DslTold | None, *, today_text: str,
                            values: Mapping[str, str] | None = None, problem: str | None = None) -> AdaptiveCard:
    """The media enquiry's short form, with the policy's instruction at the top."""
    values = values or {}
    data = _flow_data(draft, risk, dsl_told)
    body: list[Element] = [_heading(f"Report: {rule.title}"), instruction_block()]
    if risk:
        body.append(_para("Someone is at risk: this report is marked **urgent**.", color="Attention"))
    if problem:
        body.append(_para(escape_markdown(problem), color="Attention"))
    body += [
        InputText(id="enquirer", label="Who is asking? (their name)", is_required=True,
                  error_message="Say who is asking.", max_length=MAX_ENQUIRER,
                  value=_value(values, "enquirer", MAX_ENQUIRER)),
        InputText(id="organisation", label="Their organisation (newspaper, radio, TV, website)",
                  max_length=MAX_ORGANISATION, value=_value(values, "organisation", MAX_ORGANISATION)),
        InputText(id="contact", label="How to reach them (phone or email)", max_length=MAX_CONTACT,
                  value=_value(values, "contact", MAX_CONTACT)),
        InputDate(id="deadline_date", label=f"Their deadline: date (it may be today, {today_text})",
                  value=_value(values, "deadline_date", 10)),
        InputText(id="deadline_time", label="Their deadline: time, if they gave one (e.g. 17:00)", max_length=8,
                  value=_value(values, "deadline_time", 8)),
        InputText(id="about", label="What is it about? (what they asked, about which post)", is_required=True,
                  error_message="Say what the enquiry is about.", is_multiline=True, max_length=MAX_ABOUT,
                  value=_value(values, "about", MAX_ABOUT)),
        _para("SLT and the Head Teacher get it at once; SLT's channel shows only that a media enquiry came in and its "
              "deadline.", is_subtle=True, size="Small"),
    ]
    return AdaptiveCard(
        fallback_text=f"Report: {rule.title}",
        body=body,
        actions=[
            _execute("Send to SLT", Verb.MEDIA_ENQUIRY, data, style="positive"),
            _execute("Choose another category", Verb.CHOOSE_CATEGORY, data, send_inputs=False),
        ],
    )


def media_enquiry_section(enquiry: MediaEnquiry) -> list[Element]:
    """The enquiry on the details card, for the people handling the report (in place of the abuse form's facts)."""
    return [
        _para("**Media enquiry**", spacing="Medium"),
        FactSet(facts=[
            Fact(title="Who is asking", value=escape_markdown(enquiry.enquirer, one_line=True)),
            Fact(title="Organisation", value=escape_markdown(enquiry.organisation, one_line=True) or "Not given"),
            Fact(title="Contact", value=escape_markdown(enquiry.contact, one_line=True) or "Not given"),
            Fact(title="Deadline", value=enquiry.deadline_text()),
        ]),
        _para("**What it is about**", spacing="Medium"),
        _para(escape_markdown(enquiry.about), spacing="Small"),
        _para(f"Policy ({POLICY_SECTION}): \u201c{POLICY_QUOTE}\u201d", size="Small", is_subtle=True),
    ]


def with_instruction(receipt: AdaptiveCard) -> AdaptiveCard:
    """The receipt of a media enquiry, with the policy's instruction repeated first: do not respond, SLT will."""
    return receipt.model_copy(update={"body": [instruction_block(), *receipt.body]})


__all__ = [
    "MediaEnquiryPayload",
    "instruction_block",
    "media_enquiry_form_card",
    "media_enquiry_section",
    "with_instruction",
]
