"""The things a member of staff can ask the bot to do, independent of how Teams carries the request."""

from __future__ import annotations

from enum import StrEnum


class Flow(StrEnum):
    REPORT_INCIDENT = "report_incident"
    CHECK_PHOTO = "check_photo"
    PROPOSE_ACCOUNT = "propose_account"
    ASK_POLICY = "ask_policy"


FLOW_TITLES: dict[Flow, str] = {
    Flow.REPORT_INCIDENT: "Report an incident",
    Flow.CHECK_PHOTO: "Can I post this photo?",
    Flow.PROPOSE_ACCOUNT: "Propose a school account",
    Flow.ASK_POLICY: "Ask about the policy",
}

FLOW_SUMMARIES: dict[Flow, str] = {
    Flow.REPORT_INCIDENT: "Online abuse, bullying, a worrying post or a media enquiry: it reaches the right "
    "people (SLT, the Head Teacher, the DSL) at once.",
    Flow.CHECK_PHOTO: "Check parental consent for every pupil in a photo before it goes on a school account, "
    "the website or a display.",
    Flow.PROPOSE_ACCOUNT: "Send the Head Teacher a business case for a new school social media account.",
    Flow.ASK_POLICY: "Ask a question; the answer is quoted from the school's Social Media Policy.",
}
