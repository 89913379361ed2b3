"""The card checker itself: it accepts a good card and catches each kind of broken card.

Each broken card is checked twice: through `assert_valid_card` (what card tests use) and, where the
reference parser is the layer meant to catch it, through the Node parser alone, so a regression in one
layer cannot hide behind another.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from typing import Any

import pytest

from cards.base import (
    ActionExecute,
    ActionOpenUrl,
    ActionSet,
    ActionShowCard,
    ActionSubmit,
    AdaptiveCard,
    Choice,
    Column,
    ColumnSet,
    Container,
    Fact,
    FactSet,
    InputChoiceSet,
    InputDate,
    InputText,
    InputToggle,
    Refresh,
    TextBlock,
)
from tests.support.cardcheck import (
    REPO_ROOT,
    VALIDATOR_SCRIPT,
    CardToolError,
    NodeCardParser,
    assert_valid_card,
    assert_valid_cards,
    card_problems,
    shared_parser,
)

PEOPLE_PICKER_DATA = {"type": "Data.Query", "dataset": "graph.microsoft.com/users?scope=currentContext"}


def decide(verb: str, title: str, style: str | None = None) -> ActionExecute:
    """A Universal Action with the Action.Submit fallback older Teams clients need."""
    data = {"requestId": "REQ-2026-0001"}
    return ActionExecute(
        title=title,
        verb=verb,
        data=data,
        style=style,
        fallback=ActionSubmit(title=title, data={**data, "verb": verb}),
    )


def good_card() -> AdaptiveCard:
    """An approval card using every construct the project relies on."""
    return AdaptiveCard(
        fallback_text="A request for a new school social media account is waiting for your decision.",
        msteams={"width": "Full"},
        refresh=Refresh(
            action=ActionExecute(title="Refresh", verb="approval.refresh", data={"requestId": "REQ-2026-0001"}),
            user_ids=["29:1head-teacher", "29:2deputy"],
        ),
        body=[
            TextBlock(text="New account request", size="Large", weight="Bolder", style="heading"),
            FactSet(facts=[Fact(title="Platform", value="Instagram"), Fact(title="Runners", value="A. Smith")]),
            ColumnSet(
                columns=[
                    Column(width="stretch", items=[TextBlock(text="Status", is_subtle=True)]),
                    Column(width="auto", items=[TextBlock(text="Pending", color="Warning")]),
                ]
            ),
            Container(
                style="emphasis",
                items=[
                    InputText(
                        id="comment",
                        label="Comment",
                        is_multiline=True,
                        is_required=True,
                        error_message="Say why, please.",
                    ),
                    InputChoiceSet(
                        id="platform",
                        label="Platform",
                        choices=[Choice(title="Instagram", value="instagram"), Choice(title="X", value="x")],
                        choices_data={"type": "Data.Query", "dataset": "platforms"},
                        style="filtered",
                    ),
                    InputChoiceSet(
                        id="runners",
                        label="Staff who will run it",
                        choices=[],
                        choices_data=PEOPLE_PICKER_DATA,
                        is_multi_select=True,
                    ),
                    InputToggle(id="trained", title="Runners have been trained"),
                    InputDate(id="review", label="Review date"),
                ],
            ),
            ActionSet(actions=[ActionOpenUrl(title="Read the policy", url="https://example.org/policy")]),
        ],
        actions=[
            decide("approval.approve", "Approve", "positive"),
            decide("approval.reject", "Reject", "destructive"),
            ActionShowCard(
                title="Ask for changes",
                card=AdaptiveCard(
                    body=[InputText(id="changes", label="What should change?")],
                    actions=[decide("approval.changes", "Send")],
                ),
            ),
        ],
    )


def broken(mutate: Any) -> dict[str, Any]:
    """The good card's JSON after `mutate(card_json)` changed it."""
    card = copy.deepcopy(good_card().to_dict())
    mutate(card)
    return card


def events_of(card: dict[str, Any]) -> set[str]:
    """The reference parser's event names for a card."""
    return {event.event for event in shared_parser().check(card)}


# --- Accepts -------------------------------------------------------------------------------------


def test_good_card_passes() -> None:
    card = good_card().to_dict()
    assert card["version"] == "1.5"
    assert card["body"][3]["items"][1]["choices.data"]["type"] == "Data.Query"
    assert card["refresh"]["userIds"] == ["29:1head-teacher", "29:2deputy"]
    assert_valid_card(card)


def test_model_is_accepted_as_well_as_json() -> None:
    assert_valid_card(good_card())


def test_people_picker_with_empty_choices_is_exempt_but_only_with_choices_data() -> None:
    people_picker = good_card().to_dict()["body"][3]["items"][2]
    assert people_picker["choices"] == [] and "choices.data" in people_picker
    # The reference parser ties choices.data to card 1.6 and wants a static choice...
    assert {"UnsupportedProperty", "CollectionCantBeEmpty"} <= events_of(good_card().to_dict())
    # ...which the checker forgives for a people picker, but not for a plain empty choice set.
    assert_valid_card(good_card())

    def drop_data(card: dict[str, Any]) -> None:
        del card["body"][3]["items"][2]["choices.data"]

    with pytest.raises(AssertionError, match="CollectionCantBeEmpty"):
        assert_valid_card(broken(drop_data))


# --- Catches -------------------------------------------------------------------------------------


def test_unknown_element_type_fails() -> None:
    card = broken(lambda c: c["body"].append({"type": "Carousel", "pages": []}))
    assert "UnknownElementType" in events_of(card)
    with pytest.raises(AssertionError, match=r'Unknown element type "Carousel"'):
        assert_valid_card(card)


def test_unknown_action_type_fails() -> None:
    card = broken(lambda c: c["actions"].append({"type": "Action.Popover", "title": "More"}))
    assert "UnknownActionType" in events_of(card)
    with pytest.raises(AssertionError, match="UnknownActionType"):
        assert_valid_card(card)


def test_input_without_id_fails() -> None:
    card = broken(lambda c: c["body"][3]["items"][0].pop("id"))
    assert "PropertyCantBeNull" in events_of(card)
    with pytest.raises(AssertionError, match="All inputs must have a unique Id"):
        assert_valid_card(card)


def test_duplicate_ids_fail() -> None:
    def duplicate(card: dict[str, Any]) -> None:
        card["body"][3]["items"][4]["id"] = "comment"

    card = broken(duplicate)
    assert "DuplicateId" in events_of(card)
    # The typed models cannot see this one: only the reference parser catches it.
    assert not [p for p in card_problems(card) if "parse_card" in p or "round trip" in p]
    with pytest.raises(AssertionError, match='Duplicate Id "comment"'):
        assert_valid_card(card)


def test_duplicate_ids_across_a_show_card_fail() -> None:
    def duplicate(card: dict[str, Any]) -> None:
        card["actions"][2]["card"]["body"][0]["id"] = "comment"

    with pytest.raises(AssertionError, match="DuplicateId"):
        assert_valid_card(broken(duplicate))


def test_action_execute_without_verb_fails() -> None:
    # The reference parser accepts it; the typed models and the project rule do not.
    card = broken(lambda c: c["actions"][0].pop("verb"))
    with pytest.raises(AssertionError, match="Action.Execute without a verb"):
        assert_valid_card(card)
    with pytest.raises(AssertionError, match="without a verb"):
        assert_valid_card(broken(lambda c: c["actions"][0].update(verb=" ")))


def test_action_execute_without_submit_fallback_fails() -> None:
    card = broken(lambda c: c["actions"][0].pop("fallback"))
    with pytest.raises(AssertionError, match=r"\$\.actions\[0\]: Action.Execute needs an Action.Submit fallback"):
        assert_valid_card(card)


@pytest.mark.parametrize("version", ["1.6", "1.9", "banana"])
def test_unsupported_version_fails(version: str) -> None:
    card = broken(lambda c: c.update(version=version))
    with pytest.raises(AssertionError, match=rf"version '{version}' is above 1.5"):
        assert_valid_card(card)


def test_version_the_parser_does_not_support_is_reported_by_it() -> None:
    assert "UnsupportedCardVersion" in events_of(broken(lambda c: c.update(version="1.9")))


def test_missing_version_fails() -> None:
    with pytest.raises(AssertionError, match="version is missing"):
        assert_valid_card(broken(lambda c: c.pop("version")))


def test_features_newer_than_the_declared_version_fail() -> None:
    # Action.Execute is 1.4 and heading style 1.5: a card declaring 1.2 must not use them.
    events = events_of(broken(lambda c: c.update(version="1.2")))
    assert {"UnknownActionType", "UnsupportedProperty"} <= events


def test_invalid_property_value_fails() -> None:
    card = broken(lambda c: c["body"][0].update(size="Huge"))
    assert "InvalidPropertyValue" in events_of(card)
    with pytest.raises(AssertionError, match='Invalid value "Huge"'):
        assert_valid_card(card)


def test_required_input_without_label_fails() -> None:
    card = broken(lambda c: c["body"][3]["items"][0].pop("label"))
    assert "RequiredInputsShouldHaveLabel" in events_of(card)
    with pytest.raises(AssertionError, match="RequiredInputsShouldHaveLabel"):
        assert_valid_card(card)


def test_property_outside_the_typed_models_fails() -> None:
    card = broken(lambda c: c["body"][0].update(fontType="Monospace"))
    assert "fontType" not in str(shared_parser().check(card))  # the parser alone lets it through
    with pytest.raises(AssertionError, match="parse_card rejects it"):
        assert_valid_card(card)


def test_round_trip_differences_are_named() -> None:
    card = broken(lambda c: c["body"][0].pop("wrap"))  # the model adds wrap=True back
    with pytest.raises(AssertionError, match=r"\$\.body\[0\]\.wrap added as True"):
        assert_valid_card(card)


def test_too_many_refresh_users_fail() -> None:
    card = broken(lambda c: c["refresh"].update(userIds=[f"29:{n}" for n in range(61)]))
    with pytest.raises(AssertionError, match="refresh.userIds lists 61 users"):
        assert_valid_card(card)


def test_not_an_adaptive_card_fails() -> None:
    with pytest.raises(AssertionError, match="type must be 'AdaptiveCard'"):
        assert_valid_card(broken(lambda c: c.update(type="MessageCard")))


# --- Batching and the Node tool -----------------------------------------------------------------


def test_batches_use_one_process_and_a_cache() -> None:
    parser = NodeCardParser()
    try:
        cards = [broken(lambda c, n=n: c["body"][0].update(text=f"Card {n}")) for n in range(40)]
        results = parser.check_many(cards)
        assert parser.batches_sent == 1
        pid = parser.pid
        assert all(events == results[0] for events in results)
        parser.check_many(cards)  # all cached: nothing sent
        parser.check(good_card().to_dict())
        assert parser.batches_sent == 2
        assert parser.pid == pid
    finally:
        parser.close()


def test_assert_valid_cards_reports_each_bad_card() -> None:
    cards = [good_card().to_dict(), broken(lambda c: c["body"].append({"type": "Nope"})), good_card()]
    with pytest.raises(AssertionError) as failure:
        assert_valid_cards(cards)
    assert "card 1:" in str(failure.value)
    assert "card 0:" not in str(failure.value) and "card 2:" not in str(failure.value)


def test_missing_node_modules_fail_with_a_hint(tmp_path) -> None:
    (tmp_path / "tools").mkdir()
    shutil.copy(REPO_ROOT / VALIDATOR_SCRIPT, tmp_path / VALIDATOR_SCRIPT)
    parser = NodeCardParser(repo_root=tmp_path)
    with pytest.raises(CardToolError, match="npm ci"):
        parser.check(good_card().to_dict())


def test_script_reads_a_json_array_on_stdin() -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for the card tests: install it, then run `npm ci`."
    cards = [good_card().to_dict(), {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Nope"}]}]
    run = subprocess.run(
        [node, str(REPO_ROOT / VALIDATOR_SCRIPT)],
        input=json.dumps(cards),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=True,
    )
    results = json.loads(run.stdout)
    assert [result["ok"] for result in results] == [False, False]  # the first has the people picker events
    assert {e["event"] for e in results[0]["events"]} == {"UnsupportedProperty", "CollectionCantBeEmpty"}
    assert [e["event"] for e in results[1]["events"]] == ["UnknownElementType"]
    assert results[1]["version"] == "1.5"
