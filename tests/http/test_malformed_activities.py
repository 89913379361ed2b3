"""Malformed traffic against the real app (its factory, dev mode, the fake Bot Connector).

A seeded generator builds thousands of malformed activities: messages, Action.Submit messages, ``adaptiveCard/
action`` and message-extension invokes, unknown invoke names, attachments, conversation and installation
updates, with fields removed or of the wrong type, deep nesting and huge strings. They are posted
concurrently, interleaved with valid requests. Nothing may answer 5xx, every invoke gets a proper invoke
status, and every valid request gets its normal answer (and its record) as if the noise were not there.

It runs on SQLite and, shorter, on PostgreSQL (which enforces column widths, int4 ids and text without NUL
where SQLite lets anything pass). The seed is printed in every failure: ``POLICYBOT_FUZZ_SEED=<seed>`` replays
the same run (``POLICYBOT_FUZZ_COUNT`` and ``POLICYBOT_FUZZ_COUNT_POSTGRES`` change how many are sent).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.app import SERVICES
from bot.settings import Settings
from cards.incidents import Verb
from store.incidents import IncidentRow
from store.tables import BotStateRow
from tests.fakes.activities import BOT_ID, TENANT, personal_activity, user
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot
from tests.support.cardtext import card_texts

ROLES = Path(__file__).resolve().parents[2] / "playground" / "roles.json"
SEED = int(os.environ.get("POLICYBOT_FUZZ_SEED", "20261124"))
COUNT = int(os.environ.get("POLICYBOT_FUZZ_COUNT", "2100"))
# PostgreSQL enforces what SQLite lets pass (column widths, int4 ids, no NUL in text): a shorter run there
COUNT_POSTGRES = int(os.environ.get("POLICYBOT_FUZZ_COUNT_POSTGRES", "800"))
BATCH = 48  # activities in flight at once
VALID_EVERY = 12  # one valid request among this many activities
TEAMS_DEADLINE_S = 5.0  # Teams gives up on an invoke after about this long

SAM = user("Sam Teacher", "00000000-0000-0000-0000-000000000101", "29:staff-sam")
ANNA = user("Anna Smith", "00000000-0000-0000-0000-000000000201", "29:head-anna")
TOM = user("Tom Reed", "00000000-0000-0000-0000-000000000203", "29:dsl-tom")
JO = user("Jo Bell", "00000000-0000-0000-0000-000000000204", "29:admin-jo")
STRANGER = user("Someone Else", "00000000-0000-0000-0000-0000000009ff", "29:stranger")
PEOPLE = (SAM, ANNA, TOM, JO, STRANGER)
SLT_CHANNEL = "19:slt-incidents@thread.tacv2"

CARD_ACTION = "adaptiveCard/action"
INVOKE_BODY_TYPES = {
    "application/vnd.microsoft.card.adaptive",
    "application/vnd.microsoft.activity.message",
    "application/vnd.microsoft.error",
}
KNOWN_VERBS = (
    *(verb.value for verb in Verb),
    "account_submit", "account_save_draft", "account_discard_draft",
    "approval_decide", "approval_refresh", "approval_withdraw", "approval_edit",
    "photo_check_submit", "photo_check_choose_pupils", "request_device_exception", "device_exception_resubmit",
    "photo_check_exception_recheck", "do_not_photograph_submit", "do_not_photograph_choose",
    "do_not_photograph_clear", "consent_register_activate", "start_flow",
    "incident_decision", "incident_referral_outcome", "incident_export_record", "incident_mark_transferred",
    "incident_add_pupil",
)
DATA_KEYS = (
    "draft", "risk", "category", "what_happened", "platform", "involved", "actions_taken", "link", "when_date",
    "when_detail", "dsl_told", "incident", "note", "outcome", "outcome_kind", "agency", "external_reference",
    "escalation_reason", "attachment", "request_id", "decision", "round", "form_id", "comment", "reason",
    "pupils", "pupil", "list", "purpose", "destination", "device", "media", "account_name", "visibility",
    "flow", "choice", "deputy", "import_id", "verb",
    "child_words", "opinion", "decision_reason", "referral", "referral_outcome", "referral_date", "transfer_system",
    "transfer_reference",
)
INVOKE_NAMES = (
    "composeExtension/query", "composeExtension/queryLink", "composeExtension/anonymousQueryLink",
    "composeExtension/selectItem", "composeExtension/querySettingUrl", "composeExtension/setting",
    "composeExtension/onCardButtonClicked", "task/fetch", "task/submit", "tab/fetch", "tab/submit", "config/fetch",
    "config/submit", "fileConsent/invoke", "actionableMessage/executeAction", "signin/verifyState",
    "signin/tokenExchange", "signin/failure", "healthCheck", "handoff/action", "message/submitAction",
    "message/fetchTask", "adaptiveCard/Action", "adaptivecard/action", "adaptiveCard/action ", "", "x" * 300,
    "../../etc/passwd", "application/search", "composeExtension/fetchtask",
)
ACTIVITY_TYPES = (
    "typing", "event", "messageReaction", "endOfConversation", "messageUpdate", "messageDelete", "trace",
    "handoff", "suggestion", "command", "commandResult", "delay", "deleteUserData", "contactRelationUpdate",
    "invokeResponse", "Message", "MESSAGE", "bogus", "",
)
TEXTS = (
    "help", "report", "whoami", "status", "cancel", "my reports", "approvals", "my requests", "accounts",
    "delegate to", "delegate to nobody at all", "end delegation", "pupil consent", "pupil consent Zz",
    "do not photograph", "photo requests", "consent register", "update consent register", "new account",
    "use this channel for incidents", "ask", "ask can I post a photo?", "<at>Policy Bot</at> help", "  ",
    "\u0000\u0001", "😀" * 50, "<script>alert(1)</script>", "[x](javascript:alert(1))", "%s%s%n", "{}", "null",
)
# Valid incident details (the same fields the form sends)
REPORT = {
    "risk": "no", "category": "offensive_content", "what_happened": "Abusive comments under the school's post",
    "platform": "Facebook", "involved": "Unknown account", "actions_taken": "blocked,screenshot_kept",
}


_DEEPER = re.compile(r'"\\u0001deeper:(\d+)\\u0001"')


def deep(levels: int, leaf: Any = "bottom", *, as_list: bool = False) -> Any:
    """Nested ``levels`` deep. Beyond a few hundred levels a marker stands in, expanded by ``encode``
    (Python's own encoder cannot write such nesting)."""
    if levels > 400:
        return f"\u0001deeper:{levels}\u0001"
    node = leaf
    for _ in range(levels):
        node = [node] if as_list else {"a": node}
    return node


def encode(activity: Any) -> bytes:
    """The activity as JSON, with the deeply nested parts written out by hand."""
    text = json.dumps(activity)
    return _DEEPER.sub(lambda m: "[" * int(m.group(1)) + "1" + "]" * int(m.group(1)), text).encode()


class Malformed:
    """Builds malformed activities from a seeded ``random.Random``: the same seed gives the same run."""

    def __init__(self, rng: random.Random, service_url: str, verbs: tuple[str, ...] = KNOWN_VERBS) -> None:
        self.rng = rng
        self.service_url = service_url
        self.verbs = verbs
        self.used_ids: list[str] = []  # ids already sent (a retried delivery reuses one)
        self.serial = 0

    # --- values ------------------------------------------------------------------------------------

    def huge(self) -> str:
        piece = self.rng.choice(["a", "b ", "😀", "<", "&", "<at>", "<at>x", "ask ", "?"])
        return piece * (self.rng.randint(10_000, 190_000) // len(piece))

    def junk(self) -> Any:
        rng = self.rng
        choice = rng.randrange(24)
        return [
            None, True, False, 0, -1, 2**63, 10**30, -(10**30), 3.5, float("nan"), "", " ", "x",
            "\u0000", "😀" * 3, "<b>html</b>", [], [1, "2", None], {}, {"a": 1},
            lambda: deep(rng.randint(20, 400)), lambda: deep(rng.randint(20, 400), as_list=True),
            lambda: self.huge(), lambda: str(uuid.UUID(int=rng.getrandbits(128))),
        ][choice]

    def value_of(self, item: Any) -> Any:
        return item() if callable(item) else item

    def any_junk(self) -> Any:
        return self.value_of(self.junk())

    def data(self) -> dict[str, Any]:
        """Card data: a few known keys with junk (or plausible) values, sometimes an unknown key."""
        rng = self.rng
        out: dict[str, Any] = {}
        for key in rng.sample(DATA_KEYS, rng.randint(0, 6)):
            out[key] = self.any_junk() if rng.random() < 0.7 else self.plausible(key)
        if rng.random() < 0.2:
            out[f"unknown_{rng.randrange(100)}"] = self.any_junk()
        return out

    def plausible(self, key: str) -> Any:
        rng = self.rng
        return {
            "draft": uuid.UUID(int=rng.getrandbits(128)).hex, "risk": rng.choice(["yes", "no"]),
            "category": rng.choice(["offensive_content", "allegation_staff", "safeguarding", "nope"]),
            "incident": rng.choice([1, 2, "1", -5, 0, 10**12, {"id": 1}, True]),
            "request_id": rng.choice([1, "1", -1, 0, 2**70, {"id": 1}, False, [1], "１"]),
            "decision": rng.choice(["approve", "reject", "changes", "x"]),
            "when_date": rng.choice(["2026-11-24", "2026-13-45", "yesterday", ""]),
        }.get(key, "text")

    def verb(self) -> Any:
        rng = self.rng
        roll = rng.random()
        if roll < 0.65:
            return rng.choice(self.verbs)
        if roll < 0.85:
            return rng.choice(["unknown_verb", "", " ", "INCIDENT_SUBMIT", "incident_submit\u0000", "x" * 5000])
        return self.any_junk()

    # --- activities --------------------------------------------------------------------------------

    def base(self, type_: str = "message", **kwargs: Any) -> dict[str, Any]:
        rng = self.rng
        self.serial += 1
        who = rng.choice(PEOPLE)
        channel = rng.random() < 0.15
        activity = personal_activity(
            self.service_url, type_=type_, sender=dict(who), activity_id=f"fuzz-{SEED}-{self.serial}",
            conversation_id=f"a:fuzz-{rng.randrange(40)}", **kwargs,
        )
        if channel:
            activity["conversation"] = {"id": f"{SLT_CHANNEL};messageid=fuzz-{rng.randrange(5)}",
                                        "conversationType": "channel", "tenantId": TENANT}
            activity["channelData"] = {"tenant": {"id": TENANT}, "channel": {"id": SLT_CHANNEL},
                                       "team": {"id": "team-1"}}
        return activity

    def message(self) -> dict[str, Any]:
        rng = self.rng
        text = rng.choice(TEXTS) if rng.random() < 0.7 else self.any_junk()
        if isinstance(text, str) and rng.random() < 0.3:
            text += " " + self.any_junk().__str__()[:200]
        return self.base(text=text)

    def submit(self) -> dict[str, Any]:
        value: Any = {"verb": self.verb(), **self.data()}
        return self.base(value=value)

    def card_action(self) -> dict[str, Any]:
        rng = self.rng
        action: dict[str, Any] = {"type": rng.choice(["Action.Execute"] * 5 + ["Action.Submit", "", None]),
                                  "verb": self.verb(), "data": self.data()}
        if rng.random() < 0.2:
            action["data"]["verb"] = self.verb()
        return self.base("invoke", name=CARD_ACTION, value={"action": action, "trigger": "manual"})

    def message_extension(self) -> dict[str, Any]:
        rng = self.rng
        payload: Any = {
            "id": "1", "from": rng.choice([{"user": {"displayName": "Pupil"}}, "string", None, [1], {"user": []}]),
            "body": rng.choice([{"contentType": "html", "content": "<p>hi</p>"}, {"content": 5}, "x", None, []]),
            "linkToMessage": rng.choice(["https://teams.microsoft.com/l/message/1", 5, None, "javascript:x"]),
        }
        value: Any = {
            "commandId": rng.choice(["reportMessage", "report_message", "", None, 5, "nope"]),
            "commandContext": "message",
            "messagePayload": payload if rng.random() < 0.8 else self.any_junk(),
            "data": self.data() if rng.random() < 0.7 else self.any_junk(),
        }
        name = rng.choice(["composeExtension/fetchTask", "composeExtension/submitAction"])
        return self.base("invoke", name=name, value=value)

    def unknown_invoke(self) -> dict[str, Any]:
        rng = self.rng
        value = self.any_junk() if rng.random() < 0.5 else {"action": {"verb": self.verb()}, "data": self.data()}
        return self.base("invoke", name=rng.choice(INVOKE_NAMES), value=value)

    def attachments(self) -> dict[str, Any]:
        rng = self.rng
        activity = self.base(text=rng.choice(["", None, "here it is", "help"]))
        items: list[Any] = []
        for _ in range(rng.randint(0, 4)):
            item: dict[str, Any] = {
                "contentType": rng.choice([
                    "image/png", "image/*", "text/csv", "application/vnd.microsoft.teams.file.download.info",
                    "text/html", "application/vnd.microsoft.card.adaptive", "", "x/y",
                ]),
                "contentUrl": rng.choice([f"{self.service_url}nothing.png", "https://127.0.0.1:1/x", "", "notaurl"]),
                "name": rng.choice(["register.csv", "photo.png", "", "../../x.csv"]),
                "content": rng.choice([
                    {"downloadUrl": "http://127.0.0.1:1/f.csv", "fileType": "csv"}, {"downloadUrl": 5}, "text",
                    None, [1, 2],
                ]),
            }
            for key in list(item):
                if rng.random() < 0.25:
                    del item[key]
                elif rng.random() < 0.1:
                    item[key] = self.any_junk()
            items.append(item)
        activity["attachments"] = items
        return activity

    def update(self) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < 0.5:
            activity = self.base("installationUpdate", action=rng.choice(["add", "remove", "add-upgrade", "x", ""]))
        else:
            activity = self.base("conversationUpdate")
            members = [{"id": BOT_ID}, {"id": "29:someone", "name": "Someone"}, {"name": "no id"}, {}]
            activity[rng.choice(["membersAdded", "membersRemoved"])] = rng.sample(members, rng.randint(0, 4))
            activity["channelData"] = {**activity["channelData"],
                                       "eventType": rng.choice(["teamMemberAdded", "channelCreated", "x", 5])}
        return activity

    def other_type(self) -> dict[str, Any]:
        return self.base(self.rng.choice(ACTIVITY_TYPES), text="hello")

    # --- mutations ---------------------------------------------------------------------------------

    def mutate(self, activity: dict[str, Any]) -> None:
        """Remove a field or give one the wrong type (applied one to three times)."""
        rng = self.rng
        # refused at the edge (a missing id, a wrong type) | reaching the turn (card data, verbs, values)
        kind = rng.choices(range(13), weights=[1, 1, 1, 1, 3, 3, 2, 2, 4, 1, 2, 1, 1])[0]
        if kind == 0:  # a top-level field removed
            activity.pop(rng.choice([
                "conversation", "from", "recipient", "id", "channelId", "type", "channelData", "text", "value",
                "name", "timestamp", "locale", "serviceUrl",
            ]), None)
        elif kind == 1:  # a nested field removed
            parent, key = rng.choice([("conversation", "id"), ("conversation", "conversationType"),
                                      ("from", "aadObjectId"), ("from", "id"), ("from", "name"),
                                      ("channelData", "tenant"), ("value", "action"), ("value", "verb")])
            if isinstance(activity.get(parent), dict):
                activity[parent].pop(key, None)
        elif kind == 2:  # a top-level field of the wrong type
            activity[rng.choice([
                "conversation", "from", "recipient", "id", "channelId", "type", "channelData", "text", "value",
                "name", "timestamp", "locale", "serviceUrl", "attachments", "entities", "membersAdded", "replyToId",
                "action",
            ])] = self.any_junk()
        elif kind == 3:  # a nested field of the wrong type
            parent, key = rng.choice([("conversation", "id"), ("conversation", "conversationType"),
                                      ("from", "aadObjectId"), ("from", "id"), ("from", "name"),
                                      ("channelData", "tenant"), ("channelData", "channel"), ("channelData", "team"),
                                      ("recipient", "id")])
            if isinstance(activity.get(parent), dict):
                activity[parent][key] = self.any_junk()
        elif kind == 4:  # value is not an object
            activity["value"] = rng.choice([[1, 2], ["verb"], "incident_submit", 42, -1, True, 2**64, 0.5, "",
                                            [{"action": {"verb": "incident_submit"}}]])
        elif kind == 5:  # the card action's parts of the wrong type
            value = activity.get("value")
            if isinstance(value, dict):
                action = value.get("action")
                target = action if isinstance(action, dict) else value
                slot = rng.choice(["action", "data", "verb"])
                if slot == "action":
                    value["action"] = rng.choice([[1], "Action.Execute", 5, None, True, {}])
                else:
                    target[slot] = rng.choice([[1, 2], ["a"], "text", 5, None, {"a": [1]}, deep(50)])
            else:
                activity["value"] = {"action": {"verb": self.verb(), "data": [1, 2, 3]}}
        elif kind == 6:  # deep nesting somewhere
            where = rng.choice(["value", "channelData", "entities", "text", "data"])
            nest = deep(rng.choice([10, 30, 50, 80, 200, 400, 900, 3000]), as_list=rng.random() < 0.5)
            if where == "data" and isinstance(activity.get("value"), dict):
                action = activity["value"].get("action")
                (action if isinstance(action, dict) else activity["value"])["data"] = {"draft": nest}
            elif where == "entities":
                activity["entities"] = [{"type": "mention", "mentioned": nest}]
            else:
                activity[where] = nest
        elif kind == 7:  # a huge string below the body limit
            where = rng.choice(["text", "name", "id", "conversation.id", "from.name", "from.aadObjectId", "data",
                                "replyToId", "locale", "channelId", "serviceUrl"])
            big = self.huge()
            if "." in where:
                parent, key = where.split(".")
                if isinstance(activity.get(parent), dict):
                    activity[parent][key] = big
            elif where == "data" and isinstance(activity.get("value"), dict):
                action = activity["value"].get("action")
                target = action.get("data") if isinstance(action, dict) else activity["value"]
                if isinstance(target, dict):
                    target[rng.choice(DATA_KEYS)] = big
            else:
                activity[where] = big
        elif kind == 8:  # identifiers of the wrong kind in card data
            value = activity.get("value")
            if isinstance(value, dict):
                action = value.get("action")
                target = action.get("data") if isinstance(action, dict) else value
                if isinstance(target, dict):
                    target[rng.choice(["request_id", "incident", "round", "form_id", "import_id"])] = rng.choice(
                        [{"id": 1}, True, False, -1, -(2**63), 2**63, 10**40, "99999999999999999999", [1], 1.5,
                         "1; DROP TABLE incidents", None])
        elif kind == 9:  # a retried delivery: an id seen in an earlier batch
            if self.used_ids:
                activity["id"] = rng.choice(self.used_ids)
        elif kind == 10:  # an unknown verb
            value = activity.get("value")
            if isinstance(value, dict):
                action = value.get("action")
                (action if isinstance(action, dict) else value)["verb"] = f"no_such_verb_{rng.randrange(1000)}"
        elif kind == 11:  # a service URL that cannot be answered on
            activity["serviceUrl"] = rng.choice(["notaurl", "ftp://127.0.0.1/", "http://", "http://127.0.0.1:1/",
                                                 "javascript:alert(1)", "https://127.0.0.1 /", "http://[::1"])
        else:  # the whole conversation or sender replaced by something else
            activity[rng.choice(["conversation", "from"])] = rng.choice(
                ["a:personal-sam", ["a:personal-sam"], 5, True, {"id": ["x"]}, {"id": None}, {"name": "no id"}])

    def raw(self) -> tuple[bytes, str]:
        """A body that is not an activity at all."""
        rng = self.rng
        return rng.choice([
            (b"{not json", "application/json"), (b"[1, 2]", "application/json"), (b'"text"', "application/json"),
            (b"null", "application/json"), (b"", "application/json"), (b"\xff\xfe\x00", "application/json"),
            (b"[" * 5000 + b"]" * 5000, "application/json"), (b'{"a":' * 3000 + b"1" + b"}" * 3000,
                                                               "application/json"),
            (b"type=message", "application/x-www-form-urlencoded"), (b"{}", "text/plain"),
            (json.dumps({"type": "message", "text": "help"}).encode()[:-3], "application/json"),
        ])

    def next(self) -> tuple[str, Any]:
        """(kind, body): body is an activity dict, or (bytes, content type) for a raw body."""
        rng = self.rng
        builders: list[tuple[str, Callable[[], dict[str, Any]], int]] = [
            ("message", self.message, 4), ("submit", self.submit, 4), ("card_action", self.card_action, 6),
            ("message_extension", self.message_extension, 2), ("unknown_invoke", self.unknown_invoke, 2),
            ("attachments", self.attachments, 2), ("update", self.update, 2), ("other_type", self.other_type, 1),
        ]
        if rng.random() < 0.03:
            return "raw", self.raw()
        kind, build, _weight = rng.choices(builders, weights=[w for _, _, w in builders])[0]
        activity = build()
        for _ in range(rng.choices([1, 2, 3], weights=[7, 2, 1])[0]):
            self.mutate(activity)
        return kind, activity


# --- the running bot -----------------------------------------------------------------------------


def registered_verbs(client: TestClient) -> tuple[str, ...]:
    """Every verb the app's router answers (so a new verb is fuzzed too), with the ones listed here."""
    describe = getattr(client.app[SERVICES].router, "describe", None)
    found = set(describe().get("verbs", {})) if callable(describe) else set()
    return tuple(sorted(found | set(KNOWN_VERBS)))


@dataclass
class Outcome:
    kind: str
    status: int
    body: Any
    seconds: float
    sent: Any = None


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    by_kind: Counter[tuple[str, int]] = field(default_factory=Counter)
    invoke_bodies: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"seed={SEED} statuses={dict(sorted(self.statuses.items()))} "
                f"invoke bodies={dict(self.invoke_bodies)} by kind={dict(sorted(self.by_kind.items()))}")


def settings_for(database_url: str) -> Settings:
    return Settings(_env_file=None, dev_mode=True, database_url=database_url,  # type: ignore[call-arg]
                    allowed_tenant_ids=[TENANT], roles_file=ROLES)


async def post(client: TestClient, kind: str, body: Any) -> Outcome:
    started = time.perf_counter()
    if kind == "raw":
        data, content_type = body
        response = await client.post("/api/messages", data=data, headers={"Content-Type": content_type})
    else:
        response = await client.post("/api/messages", data=encode(body), headers={
            "Content-Type": "application/json"})
    text = await response.text()
    try:
        parsed: Any = json.loads(text) if text else None
    except json.JSONDecodeError:
        parsed = text
    return Outcome(kind, response.status, parsed, time.perf_counter() - started, body)


def check_malformed(outcome: Outcome, tally: Tally) -> None:
    """No 5xx; an invoke's answer is a proper invoke status (and a proper body for a card action)."""
    tally.statuses[outcome.status] += 1
    tally.by_kind[(outcome.kind, outcome.status)] += 1
    activity = outcome.sent if isinstance(outcome.sent, dict) else {}
    described = f"{outcome.kind} answered {outcome.status} {str(outcome.body)[:300]!r}; sent {str(activity)[:600]}"
    if outcome.status >= 500:
        tally.problems.append(described)
        return
    if activity.get("type") != "invoke" or outcome.status != 200:
        return
    if activity.get("name") == CARD_ACTION:
        body = outcome.body
        if not (isinstance(body, dict) and isinstance(body.get("statusCode"), int)
                and body.get("type") in INVOKE_BODY_TYPES):
            tally.problems.append(f"not a Universal Actions answer: {described}")
            return
        tally.invoke_bodies[f"{body['statusCode']} {body['type']}"] += 1
        if body["type"] == "application/vnd.microsoft.error":
            value = body.get("value")
            if not (isinstance(value, dict) and value.get("code") and value.get("message")):
                tally.problems.append(f"an error answer without code and message: {described}")


@dataclass
class Valid:
    """The valid requests sent among the noise and what each must have produced."""

    help_conversations: list[str] = field(default_factory=list)
    report_keys: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    slowest: float = 0.0


def valid_help(connector: FakeConnector, n: int) -> tuple[str, dict[str, Any]]:
    conversation = f"a:valid-help-{n}"
    return conversation, personal_activity(connector.url, text="help", sender=SAM, conversation_id=conversation,
                                           activity_id=f"valid-help-{SEED}-{n}")


def valid_report(connector: FakeConnector, who: dict[str, Any], n: int, draft: str) -> dict[str, Any]:
    return personal_activity(
        connector.url, type_="invoke", name=CARD_ACTION, sender=who, conversation_id=f"a:personal-{who['id']}",
        activity_id=f"valid-report-{SEED}-{n}",
        value={"action": {"type": "Action.Execute", "verb": Verb.SUBMIT.value, "data": {"draft": draft, **REPORT}}},
    )


def check_report_answer(outcome: Outcome, valid: Valid, label: str) -> None:
    body = outcome.body
    shown = card_texts(body["value"]) if isinstance(body, dict) and isinstance(body.get("value"), dict) else ""
    if outcome.status != 200 or "Report received" not in shown:
        valid.problems.append(f"{label}: {outcome.status} {str(body)[:400]}")


@pytest.fixture
async def fuzz_client(database_url: str, connector: FakeConnector) -> AsyncIterator[TestClient]:
    async with running_bot(settings_for(database_url)) as client:
        yield client


@pytest.fixture
async def edge_client(sqlite_url: str, connector: FakeConnector) -> AsyncIterator[TestClient]:
    async with running_bot(settings_for(sqlite_url)) as client:
        yield client


async def test_thousands_of_malformed_activities_never_get_a_5xx_and_cost_valid_requests_nothing(
    fuzz_client: TestClient, connector: FakeConnector, database_url: str
) -> None:
    client = fuzz_client
    count = COUNT if database_url.startswith("sqlite") else COUNT_POSTGRES
    generator = Malformed(random.Random(SEED), connector.url, registered_verbs(client))
    tally, valid = Tally(), Valid()
    sent = 0
    n = 0
    while sent < count:
        batch: list[tuple[str, Any]] = [generator.next() for _ in range(min(BATCH, count - sent))]
        sent += len(batch)
        jobs: list[Any] = [post(client, kind, body) for kind, body in batch]
        valid_jobs: list[tuple[str, str, Any]] = []
        for _ in range(max(1, len(batch) // VALID_EVERY)):
            n += 1
            if n % 3:
                conversation, activity = valid_help(connector, n)
                valid.help_conversations.append(conversation)
                valid_jobs.append(("help", conversation, activity))
            else:
                draft = uuid.uuid4().hex
                valid.report_keys.append(f"{SAM['aadObjectId']}:{draft}")
                valid_jobs.append(("report", draft, valid_report(connector, SAM, n, draft)))
        jobs += [post(client, "valid", activity) for _, _, activity in valid_jobs]
        outcomes = await asyncio.gather(*jobs)
        for outcome in outcomes[: len(batch)]:
            check_malformed(outcome, tally)
        for (what, label, _activity), outcome in zip(valid_jobs, outcomes[len(batch):], strict=True):
            valid.slowest = max(valid.slowest, outcome.seconds)
            if what == "report":
                check_report_answer(outcome, valid, f"report {label}")
            elif outcome.status != 201:
                valid.problems.append(f"help in {label}: {outcome.status} {str(outcome.body)[:300]}")
        generator.used_ids += [body["id"] for _, body in batch
                               if isinstance(body, dict) and isinstance(body.get("id"), str)]

    assert not tally.problems, f"{len(tally.problems)} bad answers ({tally.summary()}):\n" + "\n".join(
        tally.problems[:15])
    assert sum(tally.statuses.values()) == count, tally.summary()

    # Every valid request had its normal answer, in time, and its record.
    assert not valid.problems, f"seed={SEED}: " + "\n".join(valid.problems[:15])
    assert valid.slowest < TEAMS_DEADLINE_S, f"seed={SEED}: a valid request took {valid.slowest:.1f}s"
    help_cards = Counter(
        d.conversation_id for d in connector.sent()
        for a in d.activity.get("attachments") or []
        if isinstance(a.get("content"), dict) and "How Policy Bot can help" in card_texts(a["content"])
    )
    missing = [c for c in valid.help_conversations if help_cards[c] != 1]
    assert not missing, f"seed={SEED}: help cards missing or repeated in {missing[:10]}"
    stored = await stored_reports(client, valid.report_keys)
    assert stored == Counter(valid.report_keys), f"seed={SEED}: reports not stored exactly once"
    print(f"\nmalformed activities: {tally.summary()}")


async def stored_reports(client: TestClient, keys: list[str]) -> Counter[str]:
    database = client.app[SERVICES].database
    async with database.sessions() as session:
        rows = (await session.execute(
            select(IncidentRow.submission_key, func.count()).where(IncidentRow.submission_key.in_(keys))
            .group_by(IncidentRow.submission_key)
        )).all()
    return Counter({key: count for key, count in rows})


# --- concurrency with malformed traffic mixed in, on SQLite and PostgreSQL ------------------------------------

WRITERS = 20
REPORTS_PER_WRITER = 6
MALFORMED_PER_WRITER = 2  # a quarter of each writer's activities


def malformed_for_writer(rng: random.Random, connector: FakeConnector, who: dict[str, Any], n: int) -> dict[str, Any]:
    activity = valid_report(connector, who, n, uuid.UUID(int=rng.getrandbits(128)).hex)
    activity["id"] = f"bad-{who['id']}-{n}"
    if rng.random() < 0.5:
        del activity["conversation"]["id"]
    else:
        activity["value"] = rng.choice([[1, 2, 3], "incident_submit", 7, True, [activity["value"]]])
    return activity


async def test_concurrent_reports_with_malformed_traffic_are_each_stored_exactly_once(
    database_url: str, connector: FakeConnector
) -> None:
    rng = random.Random(SEED)
    writers = [user(f"Writer {i}", str(uuid.UUID(int=0xABC000 + i)), f"29:writer-{i}") for i in range(WRITERS)]
    async with running_bot(settings_for(database_url)) as client:
        async def writer(index: int, who: dict[str, Any]) -> tuple[list[str], list[str]]:
            plan: list[tuple[str, dict[str, Any]]] = []
            keys: list[str] = []
            for r in range(REPORTS_PER_WRITER):
                draft = uuid.UUID(int=rng.getrandbits(128)).hex
                keys.append(f"{who['aadObjectId']}:{draft}")
                plan.append(("valid", valid_report(connector, who, index * 100 + r, draft)))
            for m in range(MALFORMED_PER_WRITER):
                plan.append(("malformed", malformed_for_writer(rng, connector, who, m)))
            rng.shuffle(plan)
            # Teams retries one report (same activity id) and the reporter sends another twice (a new id).
            first_valid = next(activity for kind, activity in plan if kind == "valid")
            again = json.loads(json.dumps(first_valid))
            again["id"] += "-again"
            plan += [("valid", json.loads(json.dumps(first_valid))), ("valid", again)]
            problems: list[str] = []
            for kind, activity in plan:
                outcome = await post(client, kind, activity)
                if outcome.status >= 500:
                    problems.append(f"{kind} answered {outcome.status}: {str(outcome.body)[:300]}")
                elif kind == "valid":
                    if outcome.status != 200 or "INC-" not in json.dumps(outcome.body):
                        problems.append(f"valid report answered {outcome.status}: {str(outcome.body)[:300]}")
                elif outcome.status not in (200, 400):
                    problems.append(f"malformed answered {outcome.status}: {str(outcome.body)[:300]}")
            return keys, problems

        results = await asyncio.gather(*(writer(i, who) for i, who in enumerate(writers)))
        keys = [key for found, _ in results for key in found]
        problems = [problem for _, found in results for problem in found]
        assert not problems, f"seed={SEED} {database_url.split(':')[0]}: " + "\n".join(problems[:15])
        stored = await stored_reports(client, keys)
        assert stored == Counter(keys), f"seed={SEED}: missing {set(keys) - set(stored)}; repeated " + str(
            [k for k, c in stored.items() if c > 1])
        database = client.app[SERVICES].database
        async with database.sessions() as session:
            total = await session.scalar(select(func.count()).select_from(IncidentRow))
        assert total == WRITERS * REPORTS_PER_WRITER


# --- a few of the generator's cases, spelled out ---------------------------------------------------------------


def _without(path: str) -> Callable[[dict[str, Any]], None]:
    def remove(activity: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = activity
        for key in parents:
            node = node[key]
        del node[last]
    return remove


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(activity: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = activity
        for key in parents:
            node = node[key]
        node[last] = value
    return change


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_without("conversation.id"), "conversation.id is missing"),
        (_set("conversation", "a:personal-sam"), "conversation is not an object"),
        (_without("from"), "from is missing"),
        (_set("from", {"name": "no id"}), "from.id is missing"),
        (_set("from.aadObjectId", ["not", "an", "id"]), "from.aadObjectId is not a string"),
        (_set("text", 42), "text is not a string"),
        (_set("channelId", None), "channelId is missing"),
        (_set("serviceUrl", "javascript:alert(1)"), "serviceUrl is not an http(s) URL"),
        (_set("id", "in-\u0007-1"), "id holds control characters"),
        (_set("from.name", "Sam\u0000"), "the activity holds a NUL character"),
        (_set("value", deep(100)), "the activity is nested too deeply"),
        (_set("attachments", [{"contentType": "application/vnd.microsoft.teams.file.download.info",
                                "content": "x"}]), "attachments: a file's download info is not an object"),
    ],
)
async def test_an_activity_a_turn_cannot_run_on_is_refused_400_before_anything_runs(
    edge_client: TestClient, connector: FakeConnector, change: Callable[[dict[str, Any]], None], reason: str
) -> None:
    activity = personal_activity(connector.url, text="help")
    change(activity)
    response = await edge_client.post("/api/messages", json=activity)
    assert response.status == 400
    assert (await response.json()) == {"error": reason}
    database = edge_client.app[SERVICES].database
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BotStateRow)) == 0
    assert connector.sent() == []


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000, b'{"type": ' + b'{"a":' * 3000 + b"1" + b"}" * 3001])
async def test_json_nested_beyond_the_parser_is_refused_400(edge_client: TestClient, body: bytes) -> None:
    response = await edge_client.post("/api/messages", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400


@pytest.mark.parametrize(
    "value",
    [[1, 2], "incident_submit", 7, True, {"action": [1]}, {"action": {"verb": 5}}, {"action": {"data": {}}}],
)
async def test_an_unreadable_card_action_gets_a_universal_actions_bad_request(
    edge_client: TestClient, connector: FakeConnector, value: Any
) -> None:
    activity = personal_activity(connector.url, type_="invoke", name=CARD_ACTION, value=value)
    response = await edge_client.post("/api/messages", json=activity)
    assert response.status == 200
    body = await response.json()
    assert body["statusCode"] == 400 and body["type"] == "application/vnd.microsoft.error"
    assert body["value"]["code"] == "BadRequest" and "can't read" in body["value"]["message"]
    assert connector.sent() == []


async def test_a_message_of_repeated_mentions_is_read_in_linear_time(
    edge_client: TestClient, connector: FakeConnector
) -> None:
    """``<at>`` repeated 60,000 times once took the mention pattern minutes of CPU, stalling every request."""
    started = time.perf_counter()
    response = await edge_client.post("/api/messages", json=personal_activity(connector.url, text="<at>" * 60_000))
    assert response.status == 201
    assert time.perf_counter() - started < 5


async def test_card_data_that_is_not_an_object_is_answered_by_the_verbs_own_check(
    edge_client: TestClient, connector: FakeConnector
) -> None:
    """No data for the verb: it says what is missing (and a refusal is recorded where the verb records them)."""
    activity = personal_activity(connector.url, type_="invoke", name=CARD_ACTION,
                                 value={"action": {"verb": Verb.SUBMIT.value, "data": [1, 2]}})
    response = await edge_client.post("/api/messages", json=activity)
    assert response.status == 200
    body = await response.json()
    assert body["statusCode"] == 200 and body["type"] in INVOKE_BODY_TYPES
