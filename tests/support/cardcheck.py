"""One check for every Adaptive Card the project sends: `assert_valid_card(card)`.

Use it in any card test::

    from tests.support.cardcheck import assert_valid_card

    def test_help_card_is_valid():
        assert_valid_card(help_card("Policy Bot", "Holy Trinity").to_dict())

or `assert_valid_cards([...])` to check many cards in one batch. A card passes only if all of these hold:

1. **Project rules** (Teams behaviour the design relies on): `type` is `AdaptiveCard`; `version` is given
   and at most `cards.base.CARD_VERSION` (1.5, the highest Teams renders); every `Action.Execute` has a
   non-empty `verb` and, except the `refresh` action, an `Action.Submit` fallback for older clients;
   `refresh.userIds` lists at most `MAX_REFRESH_USERS` (60) users.
2. **Round trip** through the typed models: `cards.base.parse_card(card).to_dict() == card`, so the card
   uses only what `cards/base.py` models and loses nothing on the way.
3. **The reference Adaptive Cards parser** (npm `adaptivecards`, run by `tools/validate-cards.mjs` in
   Node against the card's declared version): no parse or validation event at all (unknown element or
   action types, invalid property values, features newer than the declared version, inputs without ids,
   duplicate ids, unsupported versions, empty choice sets, required inputs without label or error
   message). Two exemptions, both for `choices.data` on `Input.ChoiceSet` (Teams' people picker and
   dynamic type-ahead, a Teams feature from card version 1.2): the reference parser reports the
   property as needing version 1.6 (`UnsupportedProperty`), and reports an empty static `choices` list,
   which Teams allows with `choices.data`, as `CollectionCantBeEmpty`.

No package reachable here ships the Adaptive Card JSON *schema*, so there is no JSON-schema step.

The parser runs in one Node process for the whole test session (`--serve` mode; each call sends one
batch), and results are cached by the card's JSON, so checking hundreds of cards costs little.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cards.base import CARD_VERSION, MAX_REFRESH_USERS, parse_card

REPO_ROOT = Path(__file__).resolve().parents[2]
VALIDATOR_SCRIPT = Path("tools") / "validate-cards.mjs"
_NPM_HINT = "Run `npm ci` in the repository root to install the Node tools the tests use."


class CardToolError(RuntimeError):
    """The Node parser could not be run (Node or node_modules missing, or the process failed)."""


@dataclass(frozen=True)
class ParserEvent:
    """One problem the reference parser reported."""

    phase: str
    event: str
    message: str
    source_type: str | None = None
    source_id: str | None = None

    def __str__(self) -> str:
        where = f" in {self.source_type}" if self.source_type else ""
        where += f" id={self.source_id!r}" if self.source_id else ""
        return f"{self.event}{where}: {self.message}"


class NodeCardParser:
    """The reference Adaptive Cards parser in one long-lived Node process, with a result cache.

    Args:
        repo_root: the checkout holding `tools/validate-cards.mjs` and `node_modules/`.
        node: the Node executable (default: `node` on PATH).
    """

    def __init__(self, repo_root: Path = REPO_ROOT, node: str | None = None) -> None:
        self.repo_root = repo_root
        self.node = node
        self.batches_sent = 0
        self._cache: dict[str, tuple[ParserEvent, ...]] = {}
        self._process: subprocess.Popen[str] | None = None
        self._stderr: Any = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The Node process id, once started."""
        return self._process.pid if self._process else None

    def check(self, card: Mapping[str, Any]) -> tuple[ParserEvent, ...]:
        """The parser's events for one card (empty if it has none)."""
        return self.check_many([card])[0]

    def check_many(self, cards: Iterable[Mapping[str, Any]]) -> list[tuple[ParserEvent, ...]]:
        """The parser's events for each card, sending the cards not yet cached in one batch."""
        texts = [json.dumps(card, sort_keys=True, separators=(",", ":"), allow_nan=False) for card in cards]
        keys = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
        with self._lock:
            missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in self._cache}
            if missing:
                results = self._send("[" + ",".join(missing.values()) + "]")
                if len(results) != len(missing):
                    raise CardToolError(f"validate-cards answered {len(results)} results for {len(missing)}")
                for key, result in zip(missing, results, strict=True):
                    self._cache[key] = tuple(
                        ParserEvent(
                            phase=event["phase"],
                            event=event["event"],
                            message=event["message"],
                            source_type=event.get("sourceType"),
                            source_id=event.get("sourceId"),
                        )
                        for event in result["events"]
                    )
            return [self._cache[key] for key in keys]

    def close(self) -> None:
        """Stop the Node process (it ends when its stdin closes)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _start(self) -> subprocess.Popen[str]:
        script = self.repo_root / VALIDATOR_SCRIPT
        if not script.is_file():
            raise CardToolError(f"{script} is missing.")
        if not (self.repo_root / "node_modules" / "adaptivecards" / "package.json").is_file():
            raise CardToolError(f"node_modules/adaptivecards is not installed in {self.repo_root}. {_NPM_HINT}")
        node = self.node or shutil.which("node")
        if node is None:
            raise CardToolError(f"Node.js (`node`) is not on PATH. Install Node.js, then: {_NPM_HINT}")
        # stderr goes to a file, so a chatty process can never block on a full pipe.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        return subprocess.Popen(
            [node, str(script), "--serve"],
            cwd=self.repo_root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )

    def _send(self, batch: str) -> list[dict[str, Any]]:
        if self._process is not None and self._process.poll() is not None:
            self.close()  # it died since the last batch: start afresh
        if self._process is None:
            self._process = self._start()
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(batch + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except OSError as error:  # BrokenPipeError: the process died
            line = f"<{error}>"
        if not line.startswith(("[", "{")):
            stderr = self._read_stderr()
            self.close()
            raise CardToolError(f"validate-cards stopped without answering {line.strip()!r}: {stderr}")
        self.batches_sent += 1
        answer = json.loads(line)
        if isinstance(answer, dict):
            raise CardToolError(f"validate-cards refused the batch: {answer.get('error')}")
        return answer

    def _read_stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().strip()[-2000:]


_shared_parser: NodeCardParser | None = None


def shared_parser() -> NodeCardParser:
    """The session's parser process, started on first use and stopped when Python exits."""
    global _shared_parser
    if _shared_parser is None:
        _shared_parser = NodeCardParser()
        atexit.register(_shared_parser.close)
    return _shared_parser


# --- The checks -----------------------------------------------------------------------------------


def _as_dict(card: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(card, BaseModel):
        return card.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dict(card)


def _version_tuple(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return None


def _walk(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object in the card with its path, depth first."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


def _rule_problems(card: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if card.get("type") != "AdaptiveCard":
        problems.append(f"type must be 'AdaptiveCard', not {card.get('type')!r}")
    version = card.get("version")
    if not isinstance(version, str):
        problems.append("version is missing: Teams needs the card's version (Action.Execute needs 1.4+)")
    else:
        parsed = _version_tuple(version)
        if parsed is None or parsed > _version_tuple(CARD_VERSION):  # type: ignore[operator]
            problems.append(f"version {version!r} is above {CARD_VERSION}, the highest Teams renders")
    refresh = card.get("refresh")
    if isinstance(refresh, dict):
        user_ids = refresh.get("userIds") or []
        if len(user_ids) > MAX_REFRESH_USERS:
            problems.append(f"refresh.userIds lists {len(user_ids)} users; Teams refreshes at most {MAX_REFRESH_USERS}")
    for path, node in _walk(card):
        if str(node.get("type", "")).startswith("Chart.") and not isinstance(node.get("fallback"), dict):
            problems.append(f"{path}: a chart needs a fallback element for clients that cannot draw it")
        if node.get("type") != "Action.Execute":
            continue
        if not str(node.get("verb") or "").strip():
            problems.append(f"{path}: Action.Execute without a verb")
        fallback = node.get("fallback")
        if path != "$.refresh.action" and not (isinstance(fallback, dict) and fallback.get("type") == "Action.Submit"):
            problems.append(f"{path}: Action.Execute needs an Action.Submit fallback for clients before card 1.4")
    return problems


def _round_trip_problems(card: dict[str, Any]) -> list[str]:
    try:
        again = parse_card(card).to_dict()
    except ValidationError as error:
        return [f"cards.base.parse_card rejects it: {error}"]
    if again == card:
        return []
    differences = _differences(card, again)
    shown = "; ".join(differences[:5]) + (f"; and {len(differences) - 5} more" if len(differences) > 5 else "")
    return [f"round trip through cards.base changes it: {shown}"]


def _differences(before: Any, after: Any, path: str = "$") -> list[str]:
    """Paths where two JSON values differ (what the typed models add, drop or change)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[str] = []
        for key in sorted(set(before) | set(after)):
            if key not in after:
                found.append(f"{path}.{key} dropped")
            elif key not in before:
                found.append(f"{path}.{key} added as {after[key]!r}")
            else:
                found.extend(_differences(before[key], after[key], f"{path}.{key}"))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            d for i, (b, a) in enumerate(zip(before, after, strict=True)) for d in _differences(b, a, f"{path}[{i}]")
        ]
    return [] if before == after else [f"{path}: {before!r} became {after!r}"]


def _exempt(event: ParserEvent, card: dict[str, Any]) -> bool:
    """Whether a parser event is a known difference between the reference parser and Teams.

    Teams draws `Chart.*` elements (charts in Adaptive Cards); the reference parser does not know them, reports
    each as `UnknownElementType` and parses its `fallback` instead, so the fallback (a table) is checked by the
    parser like any element. The event is exempt only when every chart of that type in the card has a fallback.

    Teams supports `choices.data` (dynamic type-ahead, people picker) on `Input.ChoiceSet` as a Teams
    feature from card version 1.2, with an empty static `choices` list allowed; the reference parser
    ties `choices.data` to version 1.6 and wants at least one static choice.
    """
    if event.event == "UnknownElementType":
        charts = [node for _, node in _walk(card) if str(node.get("type", "")).startswith("Chart.")
                  and f'"{node.get("type")}"' in event.message]
        return bool(charts) and all(isinstance(node.get("fallback"), dict) for node in charts)
    if event.source_type != "Input.ChoiceSet":
        return False
    if event.event == "UnsupportedProperty":
        return '"choices.data"' in event.message
    if event.event == "CollectionCantBeEmpty":
        return any(
            node.get("type") == "Input.ChoiceSet" and node.get("id") == event.source_id and "choices.data" in node
            for _, node in _walk(card)
        )
    return False


def card_problems_many(cards: Iterable[Mapping[str, Any] | BaseModel]) -> list[list[str]]:
    """Every problem of each card (an empty list for a valid card), parsing them all in one batch."""
    dicts = [_as_dict(card) for card in cards]
    problems: list[list[str]] = []
    serialisable: list[dict[str, Any]] = []
    for card in dicts:
        try:
            json.dumps(card, allow_nan=False)
        except (TypeError, ValueError) as error:
            problems.append([f"not plain JSON: {error}"])
        else:
            problems.append([])
            serialisable.append(card)
    parsed = iter(shared_parser().check_many(serialisable))
    for card, found in zip(dicts, problems, strict=True):
        if found:
            continue
        found.extend(_rule_problems(card))
        found.extend(_round_trip_problems(card))
        found.extend(f"Adaptive Cards parser: {event}" for event in next(parsed) if not _exempt(event, card))
    return problems


def card_problems(card: Mapping[str, Any] | BaseModel) -> list[str]:
    """Every problem of one card (an empty list if it is valid)."""
    return card_problems_many([card])[0]


def assert_valid_cards(cards: Iterable[Mapping[str, Any] | BaseModel]) -> None:
    """Fail with every problem of every card (the cards are parsed in one batch)."""
    cards = list(cards)
    failures = [
        f"card {index}:\n  - " + "\n  - ".join(found) for index, found in enumerate(card_problems_many(cards)) if found
    ]
    if failures:
        raise AssertionError("invalid Adaptive Card(s):\n" + "\n".join(failures))


def assert_valid_card(card: Mapping[str, Any] | BaseModel) -> None:
    """Fail with every problem of this card: project rules, round trip, reference parser.

    Args:
        card: the card JSON as Teams receives it (`AdaptiveCard.to_dict()`); a `cards.base` model is
            accepted too and converted the same way.
    """
    found = card_problems(card)
    if found:
        raise AssertionError("invalid Adaptive Card:\n  - " + "\n  - ".join(found))
