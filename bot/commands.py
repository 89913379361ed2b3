"""Typed commands: what a message in the chat asks for, read from its text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from domain.flows import Flow


class Command(StrEnum):
    HELP = "help"
    CANCEL = "cancel"
    START_FLOW = "start_flow"
    MY_REPORTS = "my_reports"
    MY_REQUESTS = "my_requests"
    WHOAMI = "whoami"
    STATUS = "status"
    USE_CHANNEL = "use_channel"
    ACCOUNTS = "accounts"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ParsedCommand:
    command: Command
    flow: Flow | None = None
    argument: str = ""


_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)  # linear: "<at>" repeated cannot backtrack
_SPACES = re.compile(r"\s+")

_EXACT: dict[str, Command] = {
    "help": Command.HELP,
    "menu": Command.HELP,
    "hi": Command.HELP,
    "hello": Command.HELP,
    "start": Command.HELP,
    "?": Command.HELP,
    "cancel": Command.CANCEL,
    "stop": Command.CANCEL,
    "quit": Command.CANCEL,
    "my reports": Command.MY_REPORTS,
    "my requests": Command.MY_REQUESTS,
    "whoami": Command.WHOAMI,
    "who am i": Command.WHOAMI,
    "status": Command.STATUS,
    "accounts": Command.ACCOUNTS,
    "use this channel for incidents": Command.USE_CHANNEL,
}

_FLOW_PHRASES: tuple[tuple[re.Pattern[str], Flow], ...] = (
    (re.compile(r"^(report|report an incident|new report|incident)\b"), Flow.REPORT_INCIDENT),
    (
        re.compile(
            r"^(can i (post|share|use) (this|a|the|my) (photo|picture|pic|image|video)"
            r"|check (a |this )?photo|photo check)"
        ),
        Flow.CHECK_PHOTO,
    ),
    (re.compile(r"^(new account|propose (an |a )?account|propose a school account|request (a |an )?new account)"),
     Flow.PROPOSE_ACCOUNT),
)


def clean_text(text: str | None) -> str:
    """Strip @mentions (channel posts), collapse spaces, trim."""
    return _SPACES.sub(" ", _MENTION.sub(" ", text or "")).strip()


def parse(text: str | None) -> ParsedCommand:
    cleaned = clean_text(text)
    lowered = cleaned.lower().rstrip(".!")
    if lowered in _EXACT:
        return ParsedCommand(_EXACT[lowered])
    if lowered.startswith("ask ") or lowered == "ask":
        return ParsedCommand(Command.START_FLOW, Flow.ASK_POLICY, cleaned[3:].strip())
    for pattern, flow in _FLOW_PHRASES:
        if pattern.match(lowered):
            return ParsedCommand(Command.START_FLOW, flow, cleaned)
    if _looks_like_question(lowered):
        return ParsedCommand(Command.START_FLOW, Flow.ASK_POLICY, cleaned)
    return ParsedCommand(Command.UNKNOWN, argument=cleaned)


_QUESTION_START = re.compile(
    r"^(can|could|may|should|am|is|are|do|does|did|what|how|who|when|where|why|which|if|i)\b"
)


def _looks_like_question(lowered: str) -> bool:
    return lowered.endswith("?") or (bool(_QUESTION_START.match(lowered)) and len(lowered.split()) >= 4)
