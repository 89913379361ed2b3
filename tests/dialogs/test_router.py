"""The one router, as the app factory builds it: every verb validated, every command of the table routed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.app import SERVICES, create_app
from bot.settings import Settings
from cards.incidents import IncidentPayload
from cards.replies import ActionResult, CommandReply
from dialogs.router import AttachmentsRequest, InvokeRequest, Router, TextKind
from domain.access import only, staff
from domain.audit import RecordType
from domain.commands import COMMANDS, CommandInfo
from domain.flows import Flow
from domain.roles import Role
from services.requests import CardAction, CommandRequest
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
    assert table["attachments"] == ["incident_screenshots", "consent_csv"]
    assert table["invokes"] == ["application/search", "composeExtension/fetchTask", "composeExtension/submitAction",
                                "fileConsent/invoke", "fileConsent/invoke#governors_report",
                                "fileConsent/invoke#record_export"]


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


# --- authorisation at one point ----------------------------------------------------------------------------


async def _noop_action(action: CardAction) -> ActionResult:
    return ActionResult(message="ran")


async def _noop_command(request: CommandRequest) -> CommandReply:
    return CommandReply(texts=["ran"])


async def _noop_invoke(request: InvokeRequest) -> dict[str, Any]:
    return {}


async def _noop_files(request: AttachmentsRequest) -> CommandReply | None:
    return None


def test_a_route_registered_without_a_declaration_fails_at_registration(router: Router) -> None:
    registrations: list[Callable[[], None]] = [
        lambda: router.on_action("new_verb", _noop_action),  # type: ignore[call-arg]
        lambda: router.on_action("new_verb", _noop_action, access=None),  # type: ignore[arg-type]
        lambda: router.on_command(CommandInfo("new_command", phrases=("new command",)),
                                  _noop_command),  # type: ignore[call-arg]
        lambda: router.on_flow("new_flow", _noop_command),  # type: ignore[call-arg]
        lambda: router.on_attachments("new_files", _noop_files, takes=lambda _r: True),  # type: ignore[call-arg]
        lambda: router.on_invoke("new/invoke", _noop_invoke),  # type: ignore[call-arg]
    ]
    for register in registrations:
        with pytest.raises(TypeError):
            register()
    assert not router.handles("new_verb") and router.flow_handler("new_flow") is None
    assert router.match_command("new command") is None and not router.handles_invoke("new/invoke")


def test_a_declaration_naming_a_field_its_payload_lacks_fails(router: Router) -> None:
    with pytest.raises(ValueError, match="no field 'incident_id'"):
        router.on_action("new_verb", _noop_action, payload=IncidentPayload,
                         access=only(Role.SLT, record=RecordType.INCIDENT, record_field="incident_id"))
    with pytest.raises(ValueError, match="which kind of record"):
        staff(record_field="incident")


def test_every_way_in_declares_who_may_use_it_and_which_record(router: Router) -> None:
    table = router.describe()
    declared = table["access"]
    ways_in = ([f"verb:{verb}" for verb in table["verbs"]] + [f"command:{name}" for name in table["commands"]]
               + [f"flow:{flow}" for flow in table["flows"]] + [f"attachments:{a}" for a in table["attachments"]]
               + [f"invoke:{name}" for name in table["invokes"]])
    assert sorted(declared) == sorted(ways_in)
    for declaration in router.declarations():
        access = declaration.access
        assert access.roles, declaration
        if access.record_field is not None:  # a verb naming its record: the payload has that field
            assert declaration.payload is not None and access.record_field in declaration.payload.model_fields
    restricted = {d.name for d in router.declarations() if not d.access.any_staff}
    assert {"incident_view", "incident_close", "consent_register_activate", "do_not_photograph_clear", "status",
            "use_channel", "pupil_consent", "photo_requests", "update_consent_register", "consent_csv", "audit",
            "delegate", "end_delegation", "approvals"} <= restricted


def test_every_command_on_a_roles_help_card_is_one_that_role_may_use(router: Router) -> None:
    access = {d.name: d.access for d in router.declarations()}
    for entry in COMMANDS:
        if entry.name not in access:
            continue  # answered by the edge (help, cancel) or a flow's own phrases
        for role, _typed, _meaning in entry.role_lines:
            assert access[entry.name].any_staff or role in access[entry.name].roles, (entry.name, role)


def test_card_data_only_ever_says_which_record_never_who_acts(router: Router) -> None:
    identity = {"aad", "aad_object_id", "aadobjectid", "actor", "user", "user_id", "from", "requester", "sender",
                "decider", "lead", "by", "who", "roles", "role", "teams_user_id"}
    for declaration in router.declarations():
        if declaration.payload is None:
            continue
        fields = {name.lower() for name in declaration.payload.model_fields}
        aliases = {(info.alias or "").lower() for info in declaration.payload.model_fields.values()}
        assert not (fields | aliases) & identity, (declaration.name, (fields | aliases) & identity)


async def test_one_invoke_can_have_handlers_keyed_by_its_context(database: Any) -> None:
    """Teams sends every file consent card's answer as ``fileConsent/invoke``: each feature's handler is chosen by
    the key of the context its card carried, declared and audited as ``name#key``; other contexts go to the one
    registered without a key."""
    from directory.static import DirectoryEntry, StaticRoleDirectory
    from domain.actors import Actor
    from services.audit import AuditTrail
    from store import audit as trail

    head = DirectoryEntry("00000000-0000-0000-0000-0000000000c1", "Hana Head", frozenset({Role.HEAD_TEACHER}))
    dpo = DirectoryEntry("00000000-0000-0000-0000-0000000000c2", "Dora Protect", frozenset({Role.DPO}))
    router = Router(directory=StaticRoleDirectory([head, dpo], description="test"), trail=AuditTrail(database))
    seen: list[str] = []

    def handler(label: str) -> Callable[[InvokeRequest], Any]:
        async def handle(request: InvokeRequest) -> dict[str, Any]:
            seen.append(label)
            return {"handled": label}
        return handle

    router.on_invoke("test/consent", handler("plain"), access=only(Role.DPO))
    router.on_invoke("test/consent", handler("keyed"), access=only(Role.HEAD_TEACHER), context_key="report")
    with pytest.raises(ValueError, match="twice"):
        router.on_invoke("test/consent", handler("again"), access=only(Role.HEAD_TEACHER), context_key="report")
    assert router.handles_invoke("test/consent") and not router.handles_invoke("test/consent#report")
    assert {d.name for d in router.declarations()} == {"test/consent", "test/consent#report"}

    def actor(who: DirectoryEntry) -> Actor:
        return Actor(who.aad_object_id, who.name, "29:x", "a:x", "personal")

    assert await router.invoke(InvokeRequest("test/consent", {"context": {"report": 1}}, actor(head))) == {
        "handled": "keyed"}
    assert await router.invoke(InvokeRequest("test/consent", {"context": {"export": "x"}}, actor(dpo))) == {
        "handled": "plain"}
    refused = await router.invoke(InvokeRequest("test/consent", {"context": {"report": 1}}, actor(dpo)))
    assert "task" in refused and seen == ["keyed", "plain"]
    async with database.sessions() as session:
        [entry] = [e for e in await trail.recent(session, limit=5) if e.outcome.value == "refused"]
    assert (entry.action, entry.actor_aad, entry.reason) == ("test/consent#report", dpo.aad_object_id,
                                                              "role_not_held")
