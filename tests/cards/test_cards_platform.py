"""Every card of the foundation is valid Adaptive Card JSON (reference parser + round trip)."""

from __future__ import annotations

from cards.help import coming_soon_card, help_card, notice_card, welcome_card
from cards.platform import PlatformStatus, role_source_words, status_card, whoami_card
from domain.flows import Flow
from domain.roles import Role, RoleLookup
from tests.support.cardcheck import assert_valid_cards


def test_foundation_cards_are_valid() -> None:
    assert_valid_cards(
        [
            help_card("Policy Bot", "Holy Trinity"),
            welcome_card("Policy Bot", "Holy Trinity"),
            notice_card("Title [x](http://evil)", ["*line*"], tone="error"),
            *[coming_soon_card(flow) for flow in Flow],
            whoami_card("Sam", RoleLookup(frozenset({Role.STAFF}), "config", degraded=True)),
            status_card(PlatformStatus("x", "config", 3, 12, 1, 2)),
            status_card(PlatformStatus("x", "config", 0, None, 0, 0, "version 2, 10 pupils, imported 1 Nov 09:00")),
            status_card(PlatformStatus("x", "config", 0, None, 0, 0, reports_waiting_to_route=2, reports_unreadable=1)),
        ]
    )


def test_user_text_cannot_inject_markdown_links() -> None:
    card = notice_card("[click me](https://evil.example)", ["**bold** _it_ <b>"]).to_dict()
    title = card["body"][0]["text"]
    assert "[click me](https" not in title
    assert title.replace("\\", "") == "[click me](https[:]//evil[.]example)"


def test_help_card_has_a_button_for_every_flow() -> None:
    card = help_card("Policy Bot", "Holy Trinity").to_dict()
    flows = [action["data"]["flow"] for action in card["actions"]]
    assert flows == [flow.value for flow in Flow]


def test_where_roles_come_from_is_said_in_peoples_words() -> None:
    assert role_source_words(RoleLookup(frozenset({Role.STAFF}), "config")) == "the school's staff list"
    assert role_source_words(RoleLookup(frozenset({Role.STAFF}), "graph")) == "Microsoft Entra groups"
    last_known = RoleLookup(frozenset({Role.SLT}), "graph (last known, Graph unreachable)", degraded=True)
    assert role_source_words(last_known) == "Microsoft Entra groups (not reachable just now: the roles last known)"
    card = whoami_card("Sam", RoleLookup(frozenset({Role.STAFF}), "config")).to_dict()
    assert {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]} == {
        "Roles": "Staff", "Roles from": "the school's staff list"}
