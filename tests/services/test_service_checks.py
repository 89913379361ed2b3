"""A use case that checks who may call it is the authority wherever it is called from: refused there, it answers what
the router would and leaves one line in the audit trail; through the router the same sender is refused once.

The use cases here (``status`` and ``use this channel for incidents``; the consent register's keeping; ``update
consent register``; ``audit``) declare who may use them once, beside the code (``services/platform.py`` ``STATUS``,
``services/consent_admin.py`` ``ACCESS`` ...). The router registers that same declaration and each use case checks
it again (``services/audit.py`` ``Gate``). The cases below come from the declarations: every role a declaration does
not admit, and a personal-chat way in used from a channel; a declaration without an entry in ``CALLS`` fails.
Both databases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.settings import Settings
from cards.consent_admin import (
    CONSENT_REGISTER_ACTIVATE_VERB,
    DO_NOT_PHOTOGRAPH_CHOOSE_VERB,
    DO_NOT_PHOTOGRAPH_CLEAR_VERB,
    DO_NOT_PHOTOGRAPH_SUBMIT_VERB,
)
from cards.replies import ActionResult, CommandReply
from dialogs.audit import register_audit
from dialogs.consent_admin import register_consent_admin_routes, register_consent_sync_routes
from dialogs.platform import register_platform
from dialogs.router import AttachmentsRequest, Router
from directory.static import StaticRoleDirectory
from domain.access import Access
from domain.actors import Actor
from domain.audit import AuditOutcome
from domain.commands import command
from domain.roles import Role
from services import consent_admin, consent_sync, platform
from services.audit import AUDIT_ACCESS, AUDIT_COMMAND, AuditDesk, AuditTrail
from services.consent_admin import ConsentAdmin, CsvCandidate
from services.consent_sync import ConsentSync
from services.incidents import Fetch
from services.platform import Platform
from services.requests import CardAction, ChannelInfo, CommandRequest
from store.consent_store import ConsentStore
from store.db import Database
from tests.support.service_checks import (
    PEOPLE,
    actor,
    assert_refused_once,
    assert_router_holds,
    cases,
    cases_by_name,
    entries_after,
    last_entry,
    routed_command,
    said,
)

SIMS = Path(__file__).resolve().parents[1] / "data" / "consent" / "sims_export.csv"
AMELIA = "A100000000001"
CSV_URL = "https://holytrinity.sharepoint.com/sites/office/register.csv"
CHANNEL = ChannelInfo("19:slt@thread.tacv2", "SLT", "19:team@thread.tacv2", "19:slt@thread.tacv2",
                      "https://smba.example/uk/", "tenant", team_name="Leaders")

# Every use case that checks its callers, by the route name it shares with the router: its declaration, and how to
# call it (the use case itself, and the text or card the router is sent). A declaration missing here fails.
DECLARED: dict[str, Access] = {
    platform.STATUS_COMMAND: platform.STATUS,
    platform.USE_CHANNEL_COMMAND: platform.USE_CHANNEL,
    consent_sync.UPDATE_CONSENT_REGISTER: consent_sync.UPDATE_ACCESS,
    AUDIT_COMMAND: AUDIT_ACCESS,
    **consent_admin.ACCESS,
}
TEXTS = {  # a command's message
    platform.STATUS_COMMAND: "status",
    platform.USE_CHANNEL_COMMAND: "use this channel for incidents",
    consent_sync.UPDATE_CONSENT_REGISTER: "update consent register",
    AUDIT_COMMAND: "audit Sam Teacher",
    consent_admin.DO_NOT_PHOTOGRAPH: "do not photograph Amelia Hughes",
    consent_admin.PHOTO_REQUESTS: "photo requests",
    consent_admin.CONSENT_REGISTER: "consent register",
    consent_admin.PUPIL_CONSENT: "pupil consent Amelia Hughes",
}
DATA = {  # a verb's card data, and the record the trail names
    DO_NOT_PHOTOGRAPH_SUBMIT_VERB: ({"pupil": "Amelia Hughes", "note": "her mum asked"}, None),
    DO_NOT_PHOTOGRAPH_CHOOSE_VERB: ({"typed": "Amelia", "choice": AMELIA, "note": ""}, AMELIA),
    DO_NOT_PHOTOGRAPH_CLEAR_VERB: ({"pupilId": AMELIA}, AMELIA),
    CONSENT_REGISTER_ACTIVATE_VERB: ({"version": 1}, "1"),
}


@dataclass
class World:
    database: Database
    platform: Platform
    admin: ConsentAdmin
    sync: ConsentSync
    desk: AuditDesk
    router: Router
    fetched: list[str]

    async def fetch(self, url: str, _limit: int, _auth: bool) -> bytes:
        self.fetched.append(url)  # a refused sender's file is never downloaded
        return SIMS.read_bytes()


@pytest.fixture
async def world(database: Database) -> World:
    directory = StaticRoleDirectory(PEOPLE.values(), description="test")
    settings = Settings(_env_file=None, dev_mode=True, consent_source="csv")  # type: ignore[call-arg]
    trail = AuditTrail(database)
    store = ConsentStore(database)
    admin = ConsentAdmin(database, store, directory, settings, calendar=settings.school_calendar(), trail=trail)
    sync = ConsentSync(store, directory, settings, trail=trail)
    board = Platform(database, directory, bot_name="Policy Bot", trail=trail)
    router = Router(directory=directory, trail=trail)
    register_platform(router, board)
    register_consent_admin_routes(router, admin)
    register_consent_sync_routes(router, sync)
    desk = register_audit(router, database=database, trail=trail, directory=directory,
                          calendar=settings.school_calendar())
    # Records a refused click would change: two versions of the register (the second current), one open request.
    for _ in range(2):
        await store.import_csv(SIMS.read_bytes(), imported_by=PEOPLE[Role.DATA_ADMIN].aad_object_id,
                               source_name="sims.csv")
    recorded = await admin.do_not_photograph(CommandRequest("do not photograph Amelia Hughes", "Amelia Hughes",
                                                            actor(Role.STAFF)))
    assert recorded.cards and not recorded.texts
    return World(database, board, admin, sync, desk, router, [])


def _command(name: str, who: Actor) -> CommandRequest:
    text = TEXTS[name]
    phrase = next(p for p in command(name).phrases if text.lower().startswith(p))
    return CommandRequest(text, text[len(phrase):].strip(), who,
                          channel=CHANNEL if name == platform.USE_CHANNEL_COMMAND else None)


def _csv(who: Actor, fetch: Fetch | None = None) -> AttachmentsRequest:
    return AttachmentsRequest(who, [{"contentType": "application/vnd.microsoft.teams.file.download.info",
                                     "name": "register.csv",
                                     "content": {"downloadUrl": CSV_URL, "fileType": "csv"}}],
                              "https://smba.example/uk/", fetch or _no_fetch)


async def _no_fetch(url: str, _limit: int, _auth: bool) -> bytes:
    raise AssertionError(f"a refused sender's file was downloaded: {url}")


def direct(world: World, name: str, who: Actor) -> Awaitable[CommandReply | ActionResult]:
    """The use case called as the edge, a worker or a future route would call it: no router in front."""
    calls: dict[str, Callable[[], Awaitable[CommandReply | ActionResult]]] = {
        platform.STATUS_COMMAND: lambda: world.platform.status(who),
        platform.USE_CHANNEL_COMMAND: lambda: world.platform.use_channel(who, CHANNEL),
        consent_sync.UPDATE_CONSENT_REGISTER: lambda: world.sync.update_consent_register(_command(name, who)),
        AUDIT_COMMAND: lambda: world.desk.show(_command(name, who)),
        consent_admin.DO_NOT_PHOTOGRAPH: lambda: world.admin.do_not_photograph(_command(name, who)),
        consent_admin.PHOTO_REQUESTS: lambda: world.admin.photo_requests(_command(name, who)),
        consent_admin.CONSENT_REGISTER: lambda: world.admin.consent_register(_command(name, who)),
        consent_admin.PUPIL_CONSENT: lambda: world.admin.pupil_consent(_command(name, who)),
        consent_admin.CONSENT_CSV: lambda: world.admin.receive_csv(
            who, [CsvCandidate(CSV_URL, "register.csv")], world.fetch),
        DO_NOT_PHOTOGRAPH_SUBMIT_VERB: lambda: world.admin.on_submit(_click(name, who)),
        DO_NOT_PHOTOGRAPH_CHOOSE_VERB: lambda: world.admin.on_choose(_click(name, who)),
        DO_NOT_PHOTOGRAPH_CLEAR_VERB: lambda: world.admin.on_clear(_click(name, who)),
        CONSENT_REGISTER_ACTIVATE_VERB: lambda: world.admin.on_activate(_click(name, who)),
    }
    assert set(calls) == set(DECLARED), "a use case that checks its callers needs a way to be called here"
    return calls[name]()


def _click(verb: str, who: Actor) -> CardAction:
    return CardAction(verb, dict(DATA[verb][0]), who)


async def routed(world: World, name: str, who: Actor, fetch: Fetch | None = None) -> CommandReply | ActionResult | None:
    """The same request through the router (its check first, then the same use case)."""
    if name in DATA:
        return await world.router.dispatch(_click(name, who))
    if name == consent_admin.CONSENT_CSV:
        return await world.router.attachments(_csv(who, fetch))
    return await routed_command(world.router, TEXTS[name], who,
                                channel=CHANNEL if name == platform.USE_CHANNEL_COMMAND else None)


CASES = cases(DECLARED)
CASES_OF = cases_by_name(DECLARED)


def test_every_check_a_use_case_makes_is_the_routers_own_declaration(world: World) -> None:
    """The router holds the very declaration the use case checks (one place decides), and every declaration a use
    case checks has a way to be called here."""
    assert_router_holds(world.router, DECLARED)


@pytest.mark.parametrize("name", list(CASES_OF))
async def test_a_use_case_called_by_someone_it_does_not_admit_refuses_audits_and_changes_nothing(
    world: World, name: str
) -> None:
    for case in CASES_OF[name]:
        await assert_refused_once(world.database, case, DECLARED[case.name],
                                  direct=lambda who: direct(world, name, who),
                                  routed=lambda who: routed(world, name, who),
                                  record_ref=DATA[case.name][1] if case.name in DATA else None)
        assert world.fetched == []  # a refused sender's file is never downloaded


async def test_someone_a_declaration_admits_is_not_refused_by_the_use_case_either(world: World) -> None:
    """Through the router, an admitted sender passes both checks: no refusal is written for them."""
    last = await last_entry(world.database)
    assert "Senior Leadership Team" not in said(await routed(world, platform.STATUS_COMMAND, actor(Role.SLT)))
    assert (await routed(world, consent_admin.PHOTO_REQUESTS, actor(Role.DSL)) or CommandReply()).cards
    assert (await routed(world, consent_admin.CONSENT_REGISTER, actor(Role.DPO)) or CommandReply()).cards
    assert (await routed(world, platform.USE_CHANNEL_COMMAND, actor(Role.HEAD_TEACHER)) or CommandReply()).texts[
        0].startswith("Done")
    imported = await routed(world, consent_admin.CONSENT_CSV, actor(Role.DATA_ADMIN), world.fetch)
    assert isinstance(imported, CommandReply) and imported.cards and world.fetched == [CSV_URL]
    refusals = [e for e in await entries_after(world.database, last) if e.outcome is AuditOutcome.REFUSED]
    assert refusals == []
