"""The one router, as the app factory builds it: every verb validated, every command of the table routed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.app import SERVICES, create_app
from bot.settings import Settings
from dialogs.router import Router, TextKind
from domain.commands import COMMANDS
from domain.flows import Flow
from tests.fakes.activities import TENANT


@pytest.fixture
def router(sqlite_url: str) -> Iterator[Router]:
    settings = Settings(_env_file=None, dev_mode=True, database_url=sqlite_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT])
    yield create_app(settings)[SERVICES].router


def test_every_verb_has_a_payload_model(router: Router) -> None:
    verbs = router.describe()["verbs"]
    assert len(verbs) >= 27
    assert [verb for verb, route in verbs.items() if route["payload"] is None] == []


def test_every_command_of_the_table_with_phrases_is_routed_and_nothing_else(router: Router) -> None:
    routed = set(router.describe()["commands"])
    assert routed == {command.name for command in COMMANDS if command.phrases}


def test_the_flows_files_and_invokes_are_all_in_the_table(router: Router) -> None:
    table = router.describe()
    assert table["flows"] == sorted(f.value for f in (Flow.CHECK_PHOTO, Flow.PROPOSE_ACCOUNT, Flow.REPORT_INCIDENT))
    assert table["attachments"] == ["incident screenshots", "consent register CSV"]
    assert table["invokes"] == ["composeExtension/fetchTask", "composeExtension/submitAction"]


@pytest.mark.parametrize(
    ("text", "kind", "detail"),
    [
        ("help", TextKind.HELP, None),
        ("Hello!", TextKind.HELP, None),
        ("cancel", TextKind.CANCEL, None),
        ("whoami!", TextKind.COMMAND, ""),
        ("<at>Policy Bot</at> use this channel for incidents", TextKind.COMMAND, ""),
        ("status of my report", TextKind.UNKNOWN, None),  # `status` is a whole-message command
        ("delegate to Priya until Friday", TextKind.COMMAND, "Priya until Friday"),
        ("do not photograph Poppy Ashworth: her mum asked", TextKind.COMMAND, "Poppy Ashworth: her mum asked"),
        ("report", TextKind.FLOW, Flow.REPORT_INCIDENT),
        ("can I post this photo?", TextKind.FLOW, Flow.CHECK_PHOTO),
        ("new account", TextKind.FLOW, Flow.PROPOSE_ACCOUNT),
        ("ask can I friend a parent", TextKind.FLOW, Flow.ASK_POLICY),
        ("may I accept a friend request from a former pupil", TextKind.FLOW, Flow.ASK_POLICY),
        ("bananas", TextKind.UNKNOWN, None),
        ("", TextKind.UNKNOWN, None),
    ],
)
def test_what_a_message_asks_for(router: Router, text: str, kind: TextKind, detail: object) -> None:
    match = router.match_text(text)
    assert match.kind is kind
    if kind is TextKind.COMMAND:
        assert match.handler is not None and match.argument == detail
    if kind is TextKind.FLOW:
        assert match.flow is detail
