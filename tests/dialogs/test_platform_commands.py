"""whoami, status, choosing the SLT channel, conversation references, duplicate deliveries."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import SERVICES
from bot.settings import Settings
from store.consent_store import ConsentStore
from store.conversations import SchoolSettings
from store.incidents import IncidentRow
from tests.fakes.activities import TENANT, personal_activity, user
from tests.fakes.connector import FakeConnector
from tests.http_helpers import running_bot
from tests.support.cardcheck import assert_valid_card

ROLES_FILE = Path(__file__).resolve().parents[2] / "playground" / "roles.json"
CONSENT_SAMPLE = Path(__file__).resolve().parents[2] / "playground" / "consent-register.csv"
SAM = user()  # staff
PRIYA = user("Priya Shah", "00000000-0000-0000-0000-000000000202", "29:slt-priya")  # SLT


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        dev_mode=True, database_url=sqlite_url, allowed_tenant_ids=[TENANT], roles_file=ROLES_FILE,
    )


def channel_post(service_url: str, text: str, sender: dict, message_id: str = "1") -> dict:
    activity = personal_activity(service_url, text=f"<at>Policy Bot</at> {text}", sender=sender)
    activity["conversation"] = {
        "id": f"19:slt-incidents@thread.tacv2;messageid={message_id}",
        "conversationType": "channel", "isGroup": True, "tenantId": TENANT,
    }
    activity["channelData"] = {
        "tenant": {"id": TENANT},
        "team": {"id": "19:team-general@thread.tacv2", "name": "Holy Trinity Staff"},
        "channel": {"id": "19:slt-incidents@thread.tacv2", "name": "SLT Incidents"},
    }
    activity["entities"] = [{"type": "mention", "text": "<at>Policy Bot</at>",
                             "mentioned": {"id": "28:policy-bot", "name": "Policy Bot"}}]
    return activity


JO = user("Jo Bell", "00000000-0000-0000-0000-000000000204", "29:office-jo")  # data admin, DPO


def _commands(card: dict) -> dict[str, list[str]]:
    """Each FactSet under its heading ("Or type", "For your role"): the commands listed."""
    found: dict[str, list[str]] = {}
    for element in card["body"]:
        if element.get("type") == "Container" and len(element.get("items", [])) == 2:
            heading, facts = element["items"]
            if facts.get("type") == "FactSet":
                found[heading["text"]] = [fact["title"] for fact in facts["facts"]]
    return found


async def test_help_adds_the_senders_own_commands_in_the_personal_chat_only(
    settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(settings) as client:
        for who in (SAM, JO, PRIYA):
            await client.post("/api/messages", json=personal_activity(connector.url, text="help", sender=who))
        await client.post("/api/messages", json=channel_post(connector.url, "help", JO))
    sam, jo, priya, in_channel = connector.cards()
    for card in (sam, jo, priya, in_channel):
        assert_valid_card(card)
        assert "do not photograph + name" in _commands(card)["Or type"]  # everyone can record a parent's wish
    assert "For your role" not in _commands(sam)
    assert _commands(jo)["For your role"] == [
        "photo requests", "pupil consent + name", "consent register", "send the MIS export (.csv) here",
        "update consent register", "audit + reference or name", "retention preview",
        "legal hold + reference or person + because + reason", "release legal hold + reference or person",
        "subject access + person", "erase + person + because + reason", "rectify + person",
        "legal holds",  # Jo is the DPO too
    ]
    assert _commands(priya)["For your role"] == [  # SLT and the deputy
        "approvals", "open reports", "status", "@Policy Bot use this channel for incidents",
        "close account + name + because + reason", "transfer account + name + to + whom + because + reason",
        "dashboard", "policy status", "training + person + date + what"]
    assert "For your role" not in _commands(in_channel)  # a channel sees the same help for everyone


async def test_whoami_lists_the_senders_roles(settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="whoami", sender=PRIYA))
    [card] = connector.cards()
    assert card["body"][0]["text"] == "You are Priya Shah"
    roles = card["body"][1]["facts"][0]["value"]
    assert "Senior Leadership Team" in roles and "Staff" in roles


async def test_roles_come_from_the_authenticated_sender_not_the_message(
    settings: Settings, connector: FakeConnector
) -> None:
    # Sam (staff) claims in the card payload and text to be someone else: only from.aadObjectId counts.
    activity = personal_activity(connector.url, text="status", sender=SAM)
    activity["value"] = {"aadObjectId": PRIYA["aadObjectId"]}
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=activity)
    assert "Only members of the Senior Leadership Team" in connector.texts()[0]


async def test_status_for_slt_shows_channel_roles_and_backlog(settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="status", sender=PRIYA))
    [card] = connector.cards()
    facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
    assert facts["SLT incident channel"].startswith("not chosen yet")
    assert facts["Roles from"] == "the school's staff list"  # people's words, not a file name
    assert facts["Messages waiting to be delivered"].startswith("0")
    assert facts["Photo consent register"].startswith("empty: nothing imported yet")  # CSV source: no list line


async def test_status_shows_the_consent_register_in_use(settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(settings) as client:
        store = ConsentStore(client.app[SERVICES].database)
        await store.import_csv(CONSENT_SAMPLE.read_bytes(), imported_by="office", source_name="export.csv")
        await client.post("/api/messages", json=personal_activity(connector.url, text="status", sender=PRIYA))
    [card] = connector.cards()
    facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
    assert facts["Photo consent register"].startswith("version 1, 10 pupils, imported ")
    assert "SharePoint" not in facts["Photo consent register"]


def _report(n: int, *, category: str = "offensive_content", routed: bool = True) -> IncidentRow:
    now = datetime.now(UTC)
    return IncidentRow(
        reference=f"INC-2026-{n:04d}", year=2026, number=n, submission_key=f"status-{n}", category=category,
        urgency="standard", status="open", immediate_risk=False, dsl_told=None, reporter_aad=SAM["aadObjectId"],
        reporter_name=SAM["name"], what_happened="A post about the school.", platform="facebook", link="",
        when_date=None, when_detail="", involved="", actions_taken=[], source="form", source_author="",
        received_at=now, routed_at=now if routed else None, version=1)


async def test_status_tells_slt_about_reports_waiting_for_the_directory_and_any_the_bot_cannot_read(
    settings: Settings, connector: FakeConnector
) -> None:
    """A report made while the directory was down is counted until it is routed; a report stored with a value this
    version does not know (the escalation worker leaves it out and logs it) is counted, with what to do, in words."""
    async with running_bot(settings) as client:
        async with client.app[SERVICES].database.transaction() as session:
            session.add_all([_report(1), _report(2, routed=False), _report(3, category="sextortion", routed=False)])
        await client.post("/api/messages", json=personal_activity(connector.url, text="status", sender=PRIYA))
    [card] = connector.cards()
    assert_valid_card(card)
    facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
    assert facts["Reports waiting for the school directory"] == "1"
    assert facts["Reports the bot cannot read"] == "1"
    warning = card["body"][-1]["text"]
    assert "1 stored incident report(s) hold a value this version of the bot does not know" in warning
    assert "Ask IT today" in warning


async def test_status_says_nothing_about_reports_when_all_are_routed(settings: Settings,
                                                                     connector: FakeConnector) -> None:
    async with running_bot(settings) as client:
        async with client.app[SERVICES].database.transaction() as session:
            session.add(_report(1))
        await client.post("/api/messages", json=personal_activity(connector.url, text="status", sender=PRIYA))
    [card] = connector.cards()
    titles = {fact["title"] for fact in card["body"][1]["facts"]}
    assert not titles & {"Reports waiting for the school directory", "Reports the bot cannot read"}
    assert "does not know" not in json.dumps(card)


async def test_slt_member_chooses_the_incident_channel(settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(settings) as client:
        response = await client.post(
            "/api/messages", json=channel_post(connector.url, "use this channel for incidents", PRIYA)
        )
        assert response.status == 201
        stored = await SchoolSettings(client.app[SERVICES].database).get(SchoolSettings.SLT_CHANNEL)
        channel = await client.app[SERVICES].conversations.channel("19:slt-incidents@thread.tacv2")
    assert "Done: incident reports will be posted in this channel" in connector.texts()[0]
    chosen = json.loads(stored or "{}")
    assert chosen["channel_id"] == "19:slt-incidents@thread.tacv2"
    assert chosen["team_id"] == "19:team-general@thread.tacv2"
    assert channel is not None and channel.conversation_id == "19:slt-incidents@thread.tacv2"
    assert channel.reference["conversation"]["id"] == "19:slt-incidents@thread.tacv2"


async def test_status_and_whoami_speak_in_peoples_words(settings: Settings, connector: FakeConnector) -> None:
    """Issue 19, item 8: the channel and its team by name, where roles come from in plain words; never a Teams
    id, a file name or "config"."""
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=channel_post(connector.url, "use this channel for incidents", PRIYA))
        await client.post("/api/messages", json=personal_activity(connector.url, text="status", sender=PRIYA))
        await client.post("/api/messages", json=personal_activity(connector.url, text="whoami", sender=SAM))
    status, whoami = connector.cards()
    facts = {fact["title"]: fact["value"].replace("\\", "") for fact in status["body"][1]["facts"]}
    assert facts["SLT incident channel"] == (
        "\u201cSLT Incidents\u201d in the team \u201cHoly Trinity Staff\u201d (chosen in Teams)")
    assert facts["Roles from"] == "the school's staff list"
    mine = {fact["title"]: fact["value"] for fact in whoami["body"][1]["facts"]}
    assert mine == {"Roles": "Staff", "Roles from": "the school's staff list"}
    shown = json.dumps([status, whoami])
    for machine in ("19:", "thread.tacv2", "roles.json", "config", "From config", "configuration file"):
        assert machine not in shown, machine


async def test_a_channel_set_by_it_but_never_seen_says_its_name_is_not_known(
    sqlite_url: str, connector: FakeConnector
) -> None:
    settings = Settings(_env_file=None, dev_mode=True, database_url=sqlite_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT], roles_file=ROLES_FILE,
                        slt_channel_id="19:slt-incidents@thread.tacv2")
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="status", sender=PRIYA))
    [card] = connector.cards()
    facts = {fact["title"]: fact["value"].replace("\\", "") for fact in card["body"][1]["facts"]}
    assert facts["SLT incident channel"].startswith("the SLT channel set up by IT (name not known yet: add the bot")
    assert "19:" not in json.dumps(card)


async def test_staff_cannot_choose_the_incident_channel(settings: Settings, connector: FakeConnector) -> None:
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=channel_post(connector.url, "use this channel for incidents", SAM))
        stored = await SchoolSettings(client.app[SERVICES].database).get(SchoolSettings.SLT_CHANNEL)
    assert stored is None
    assert "Only a member of the Senior Leadership Team can choose" in connector.texts()[0]


async def test_choosing_a_channel_from_a_personal_chat_explains_where_to_do_it(
    settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(settings) as client:
        await client.post(
            "/api/messages",
            json=personal_activity(connector.url, text="use this channel for incidents", sender=PRIYA),
        )
    assert "Type this in the team channel" in connector.texts()[0]


async def test_personal_conversation_reference_is_stored_with_the_tenant(
    settings: Settings, connector: FakeConnector
) -> None:
    async with running_bot(settings) as client:
        await client.post("/api/messages", json=personal_activity(connector.url, text="help", sender=SAM))
        stored = await client.app[SERVICES].conversations.personal_chat_of(SAM["aadObjectId"])
    assert stored is not None
    assert stored.tenant_id == TENANT
    assert stored.teams_user_id == "29:staff-sam"
    assert stored.service_url == connector.url


async def test_a_message_delivered_three_times_is_acted_on_once(
    database_url: str, connector: FakeConnector
) -> None:
    settings = Settings(_env_file=None, dev_mode=True, database_url=database_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT], roles_file=ROLES_FILE)
    activity = personal_activity(connector.url, text="help", activity_id="teams-retry-1")
    async with running_bot(settings) as client:
        statuses = [(await client.post("/api/messages", json=activity)).status for _ in range(3)]
    assert statuses[0] == 201 and statuses[1:] == [200, 200]
    assert len(connector.sent()) == 1


async def test_concurrent_duplicate_deliveries_are_acted_on_once(
    database_url: str, connector: FakeConnector
) -> None:
    settings = Settings(_env_file=None, dev_mode=True, database_url=database_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT], roles_file=ROLES_FILE)
    activity = personal_activity(connector.url, text="help", activity_id="teams-retry-2")
    async with running_bot(settings) as client:
        responses = await asyncio.gather(*(client.post("/api/messages", json=activity) for _ in range(3)))
    assert sorted(r.status for r in responses) == [200, 200, 201]
    assert len(connector.sent()) == 1


async def test_duplicates_survive_a_restart(database_url: str, connector: FakeConnector) -> None:
    settings = Settings(_env_file=None, dev_mode=True, database_url=database_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT], roles_file=ROLES_FILE)
    activity = personal_activity(connector.url, text="help", activity_id="teams-retry-3")
    async with running_bot(settings) as first:
        await first.post("/api/messages", json=activity)
    async with running_bot(settings) as second:
        assert (await second.post("/api/messages", json=activity)).status == 200
    assert len(connector.sent()) == 1


async def test_a_retried_invoke_gets_the_first_answer(settings: Settings, connector: FakeConnector) -> None:
    invoke = personal_activity(
        connector.url, type_="invoke", name="adaptiveCard/action", activity_id="invoke-retry",
        value={"action": {"type": "Action.Execute", "verb": "no_such_verb", "data": {}}},
    )
    async with running_bot(settings) as client:
        first = await client.post("/api/messages", json=invoke)
        second = await client.post("/api/messages", json=invoke)
        assert first.status == second.status == 200
        assert await first.json() == await second.json()


async def test_concurrent_retries_of_one_invoke_all_get_an_answer(database_url: str, connector: FakeConnector) -> None:
    settings = Settings(_env_file=None, dev_mode=True, database_url=database_url,  # type: ignore[call-arg]
                        allowed_tenant_ids=[TENANT], roles_file=ROLES_FILE)
    invoke = personal_activity(
        connector.url, type_="invoke", name="adaptiveCard/action", activity_id="invoke-retry-concurrent",
        value={"action": {"type": "Action.Execute", "verb": "no_such_verb", "data": {}}},
    )
    async with running_bot(settings) as client:
        responses = await asyncio.gather(*(client.post("/api/messages", json=invoke) for _ in range(3)))
        bodies = [await r.json() for r in responses]
    assert [r.status for r in responses] == [200, 200, 200]
    assert bodies[0] == bodies[1] == bodies[2]
