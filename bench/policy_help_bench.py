"""Measure the policy help on the question set: right section, required quotes, "doesn't say", speed.

Run from the repository root:
    .venv/bin/python bench/policy_help_bench.py [--policy PATH] [--runs 5] [--misses] [--baseline REV]

Two halves of one question set (tests/data/policy_questions_dev.json and ..._held_out.json), split by a
fixed seed before any tuning (bench/README.md). This file is the ONLY reader of the held-out half: tuning
looks at the dev half (``--misses`` prints dev failures only); the held-out half gives figures, never
details, unless ``--show-held-out`` is passed (which turns its questions into dev questions: never while
tuning).

The school's real policy is found as the tests find it (tests/support/school_policy.py): ``--policy``, else
``TEST_SCHOOL_POLICY``, else ../shared/reference/social-media-policy.txt; the bench stops and says so when
none is there.

Speed is reported as a range over ``--runs`` timed passes and as a ratio to a baseline timed in the same
passes (interleaved): the policy help as it was at git revision ``--baseline`` (before issue 17), loaded
from the repository's history, so the shared machine's load affects both alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from domain.policy_help import SECTION_SEPARATOR, PolicyAnswer, PolicyIndex  # noqa: E402
from tests.support.school_policy import missing_reason, school_policy_path  # noqa: E402

DATA = REPO / "tests" / "data"
HALVES = {"dev": DATA / "policy_questions_dev.json", "held_out": DATA / "policy_questions_held_out.json"}
BASELINE_REVISION = "03ee6b7"  # the question set's own commit: the method as it was before any tuning


def normalised(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for a, b in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("*", "")):
        text = text.replace(a, b)
    return " ".join(text.casefold().split())


def section_matches(found: str, expected: list[str]) -> bool:
    return any(found == e or found.startswith(e + SECTION_SEPARATOR) for e in expected)


def quotes_required(answer: Any, must_quote: list[list[str]]) -> bool:
    if not answer.covered:
        return False
    quoted = normalised(" ".join(q.text for q in answer.quotes))
    return all(any(normalised(phrase) in quoted for phrase in group) for group in must_quote)


def score(index: Any, data: dict[str, Any]) -> dict[str, tuple[int, int]]:
    questions, oos = data["questions"], data["out_of_scope"]
    first = phrases = both = 0
    for q in questions:
        answer = index.answer(q["q"])
        ok_section = answer.covered and section_matches(answer.quotes[0].section, q["expected"])
        ok_phrases = quotes_required(answer, q["must_quote"])
        first += ok_section
        phrases += ok_phrases
        both += ok_section and ok_phrases
    refused = sum(type(index.answer(q["q"])).__name__ == "NotCovered" for q in oos)
    return {
        "section": (first, len(questions)),
        "phrases": (phrases, len(questions)),
        "both": (both, len(questions)),
        "oos": (refused, len(oos)),
    }


def print_misses(index: PolicyIndex, data: dict[str, Any], name: str) -> None:
    for q in data["questions"]:
        answer = index.answer(q["q"])
        ok_section = isinstance(answer, PolicyAnswer) and section_matches(answer.quotes[0].section, q["expected"])
        ok_phrases = quotes_required(answer, q["must_quote"])
        if ok_section and ok_phrases:
            continue
        mark = ("S" if not ok_section else "-") + ("P" if not ok_phrases else "-")
        print(f"{mark} [{name} {q['id']} {q['topic']}] {q['q']!r} conf={answer.confidence}")
        print(f"     tokens: {index.question_tokens(q['q'])}")
        print(f"     expected: {q['expected']} quoting {q['must_quote']}")
        if isinstance(answer, PolicyAnswer):
            for quote in answer.quotes:
                print(f"     -> {quote.section} ({quote.score:.2f}): {quote.text[:100]!r}")
        else:
            for m in index.search(q["q"], limit=3):
                print(f"     ~> {m.section} ({m.score:.2f}): {m.passage.text[:90]!r}")
    for q in data["out_of_scope"]:
        answer = index.answer(q["q"])
        if isinstance(answer, PolicyAnswer):
            print(f"OOS [{name} {q['id']}] {q['q']!r} conf={answer.confidence} tokens={index.question_tokens(q['q'])}")
            print(f"     -> answered from {answer.section}: {answer.quotes[0].text[:90]!r}")


def load_baseline(revision: str) -> ModuleType | None:
    """domain/policy_help.py as it was at `revision`, imported under another name (None: no git history)."""
    try:
        source = subprocess.run(
            ["git", "show", f"{revision}:domain/policy_help.py"], cwd=REPO, capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "policy_help_baseline.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("policy_help_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["policy_help_baseline"] = module
    spec.loader.exec_module(module)
    return module


def per_answer_ms(index: Any, questions: list[str], repeat: int) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds per answer (CPU time is what the shared machine's load does not inflate)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        for question in questions:
            index.answer(question)
    n = repeat * len(questions)
    return (time.perf_counter() - started) * 1000 / n, (time.process_time() - cpu_started) * 1000 / n


def fmt(pair: tuple[int, int]) -> str:
    hit, n = pair
    return f"{hit}/{n} = {hit / n:.1%}" if n else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--policy", type=Path, default=None, help="the school's policy (default: as the tests find it)")
    parser.add_argument("--runs", type=int, default=5, help="timed passes (figures are given as ranges)")
    parser.add_argument("--repeat", type=int, default=3, help="times each question is answered in one pass")
    parser.add_argument("--baseline", default=BASELINE_REVISION, help="git revision of the baseline method")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--misses", action="store_true", help="print each DEV question answered wrongly")
    parser.add_argument("--dev-only", action="store_true", help="score the dev half only (while tuning)")
    parser.add_argument(
        "--show-held-out",
        action="store_true",
        help="also print held-out failures (never while tuning: it makes them dev questions)",
    )
    args = parser.parse_args()

    policy = args.policy or school_policy_path()
    if policy is None:
        print(f"Cannot run: {missing_reason()}.")
        return 2
    started = time.perf_counter()
    index = PolicyIndex.from_path(policy)
    built_ms = (time.perf_counter() - started) * 1000
    baseline_module = None if args.no_baseline else load_baseline(args.baseline)
    baseline = baseline_module.PolicyIndex.from_path(policy) if baseline_module else None
    halves = {
        name: json.loads(path.read_text(encoding="utf-8"))
        for name, path in HALVES.items()
        if not (args.dev_only and name == "held_out")
    }
    empty: dict[str, Any] = {"questions": [], "out_of_scope": []}

    print(f"policy: {policy}; index built in {built_ms:.0f} ms")
    rows = [("method", index)] + ([(f"baseline ({args.baseline})", baseline)] if baseline else [])
    for label, candidate in rows:
        figures = {name: score(candidate, halves.get(name, empty)) for name in HALVES}
        print(f"\n{label}:")
        print(f"  {'':28} {'held-out':>18} {'dev':>18}")
        for key, title in (
            ("section", "right section first"),
            ("phrases", "required phrases quoted"),
            ("both", "both"),
            ("oos", "out of scope: doesn't say"),
        ):
            print(f"  {title:28} {fmt(figures['held_out'][key]):>18} {fmt(figures['dev'][key]):>18}")

    if args.misses:
        print()
        print_misses(index, halves["dev"], "dev")
    if args.show_held_out:
        print()
        print_misses(index, halves["held_out"], "held_out")

    asked = [q["q"] for data in halves.values() for q in data["questions"] + data["out_of_scope"]]
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for _ in range(args.runs):  # interleaved, so that a busy moment slows both
        ours.append(per_answer_ms(index, asked, args.repeat))
        if baseline:
            theirs.append(per_answer_ms(baseline, asked, args.repeat))
    print(f"\nper answer over {args.runs} passes of {len(asked)} questions x {args.repeat} "
          f"(load average {os.getloadavg()[0]:.1f}):")
    for k, kind in ((0, "wall ms"), (1, "CPU ms")):
        mine = sorted(o[k] for o in ours)
        line = f"  {kind:8} method {mine[0]:.2f}-{mine[-1]:.2f} (median {mine[len(mine) // 2]:.2f})"
        if theirs:
            base = sorted(t[k] for t in theirs)
            ratios = sorted(o[k] / t[k] for o, t in zip(ours, theirs, strict=True))
            line += (f"; baseline {base[0]:.2f}-{base[-1]:.2f}; ratio {ratios[0]:.2f}-{ratios[-1]:.2f} "
                     f"(median {ratios[len(ratios) // 2]:.2f})")
        print(line)
    for label, clock in (("wall", time.perf_counter), ("CPU", time.process_time)):
        single = []
        for question in asked:
            t0 = clock()
            index.answer(question)
            single.append((clock() - t0) * 1000)
        single.sort()
        print(f"one answer at a time, {label}: p50 {single[len(single) // 2]:.2f} ms, "
              f"p99 {single[int(len(single) * 0.99)]:.2f} ms, max {single[-1]:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
