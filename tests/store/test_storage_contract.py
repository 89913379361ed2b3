"""The botbuilder Storage contract, run on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import asyncio

import pytest
from botbuilder.dialogs import DialogInstance, DialogState

from bot import state_codec
from bot.storage import SqlStorage, StateConflictError
from store import bot_state
from store.db import Database


@pytest.fixture
async def storage(database_url: str):  # type: ignore[no-untyped-def]
    database = Database(database_url)
    await database.migrate()
    yield SqlStorage(database)
    await database.dispose()


async def test_reading_missing_keys_returns_nothing(storage: SqlStorage) -> None:
    assert await storage.read(["nobody"]) == {}


async def test_write_then_read_round_trips_with_an_etag(storage: SqlStorage) -> None:
    await storage.write({"k1": {"count": 1, "name": "Sam"}, "k2": {"list": [1, "two", None]}})
    items = await storage.read(["k1", "k2", "k3"])
    assert set(items) == {"k1", "k2"}
    assert items["k1"]["count"] == 1 and items["k1"]["name"] == "Sam"
    assert items["k2"]["list"] == [1, "two", None]
    assert items["k1"]["e_tag"] and items["k1"]["e_tag"] != items["k2"]["e_tag"]


async def test_write_with_current_etag_succeeds_and_changes_it(storage: SqlStorage) -> None:
    await storage.write({"k": {"v": 1}})
    first = (await storage.read(["k"]))["k"]
    first["v"] = 2
    await storage.write({"k": first})
    second = (await storage.read(["k"]))["k"]
    assert second["v"] == 2
    assert second["e_tag"] != first["e_tag"]


async def test_write_with_stale_etag_is_refused_and_keeps_the_newer_value(storage: SqlStorage) -> None:
    await storage.write({"k": {"v": 1}})
    stale = (await storage.read(["k"]))["k"]
    fresh = dict(stale)
    fresh["v"] = 2
    await storage.write({"k": fresh})
    stale["v"] = 3
    with pytest.raises(StateConflictError):
        await storage.write({"k": stale})
    assert (await storage.read(["k"]))["k"]["v"] == 2


async def test_star_etag_overwrites_unconditionally(storage: SqlStorage) -> None:
    await storage.write({"k": {"v": 1}})
    await storage.write({"k": {"v": 9, "e_tag": "*"}})
    assert (await storage.read(["k"]))["k"]["v"] == 9


async def test_a_failed_write_changes_none_of_the_batch(storage: SqlStorage) -> None:
    await storage.write({"a": {"v": 1}, "b": {"v": 1}})
    items = await storage.read(["a", "b"])
    await storage.write({"b": dict(items["b"], v=2)})  # b's etag is now newer than items["b"]
    with pytest.raises(StateConflictError):
        await storage.write({"a": dict(items["a"], v=5), "b": dict(items["b"], v=5)})
    after = await storage.read(["a", "b"])
    assert after["a"]["v"] == 1 and after["b"]["v"] == 2


async def test_concurrent_writers_with_the_same_etag_exactly_one_wins(storage: SqlStorage) -> None:
    await storage.write({"k": {"v": 0}})
    base = (await storage.read(["k"]))["k"]

    async def writer(n: int) -> bool:
        try:
            await storage.write({"k": dict(base, v=n)})
            return True
        except StateConflictError:
            return False

    results = await asyncio.gather(*(writer(n) for n in range(1, 9)))
    assert results.count(True) == 1
    winner = results.index(True) + 1
    assert (await storage.read(["k"]))["k"]["v"] == winner


async def test_delete_removes_only_the_named_keys(storage: SqlStorage) -> None:
    await storage.write({"a": {"v": 1}, "b": {"v": 2}})
    await storage.delete(["a", "missing"])
    assert set(await storage.read(["a", "b"])) == {"b"}


async def test_dialog_state_objects_survive_storage(storage: SqlStorage) -> None:
    instance = DialogInstance()
    instance.id = "ask_steps"
    instance.state = {"stepIndex": 0, "values": {"question": "Can I *post*?"}}
    state = DialogState([instance])
    await storage.write({"conv": {"DialogState": state}})
    loaded = (await storage.read(["conv"]))["conv"]["DialogState"]
    assert isinstance(loaded, DialogState)
    assert loaded.dialog_stack[0].id == "ask_steps"
    assert loaded.dialog_stack[0].state["values"]["question"] == "Can I *post*?"


def test_state_codec_refuses_to_build_classes_outside_the_allow_list() -> None:
    hostile = '{"$t": "object", "cls": "subprocess:Popen", "v": {}}'
    with pytest.raises(state_codec.StateCodecError):
        state_codec.decode(hostile)


def test_state_codec_keeps_non_string_keys_and_reserved_names() -> None:
    value = {1: "one", "$t": "not a tag"}
    assert state_codec.decode(state_codec.encode(value)) == value


async def test_the_stores_own_units_of_work_keep_the_etag_contract(database_url: str) -> None:
    """Outside a turn the storage only adapts: the store's units of work read, write all or none, and delete."""
    database = Database(database_url)
    await database.migrate()
    try:
        await bot_state.write_stored(database, [("a", '{"v": 1}', None), ("b", '{"v": 1}', None)])
        etags = {key: etag for key, etag, _ in await bot_state.read_stored(database, ["a", "b", "missing"])}
        assert set(etags) == {"a", "b"}
        await bot_state.write_stored(database, [("b", '{"v": 2}', etags["b"])])
        with pytest.raises(StateConflictError):  # b's e-tag is stale now: a is not written either
            await bot_state.write_stored(database, [("a", '{"v": 5}', etags["a"]), ("b", '{"v": 5}', etags["b"])])
        stored = {key: document for key, _, document in await bot_state.read_stored(database, ["a", "b"])}
        assert stored == {"a": '{"v": 1}', "b": '{"v": 2}'}
        await bot_state.delete_stored(database, ["a", "missing"])
        assert [key for key, _, _ in await bot_state.read_stored(database, ["a", "b"])] == ["b"]
    finally:
        await database.dispose()
