"""Measure the policy help on the question set: section accuracy, not-covered behaviour and speed.

Run from the repository root:  .venv/bin/python bench/policy_help_bench.py [--policy PATH] [--misses]

The question set (tests/data/policy_questions.json) names, for each question, the section(s) of the
school's real policy (../shared/reference/social-media-policy.txt) that answer it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from domain.policy_help import SECTION_SEPARATOR, NotCovered, PolicyIndex  # noqa: E402

QUESTIONS = REPO / "tests" / "data" / "policy_questions.json"
REAL_POLICY = REPO.parent / "shared" / "reference" / "social-media-policy.txt"


def section_matches(found: str, expected: list[str]) -> bool:
    return any(found == e or found.startswith(e + SECTION_SEPARATOR) for e in expected)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, default=REAL_POLICY)
    parser.add_argument("--misses", action="store_true", help="print each question answered wrongly")
    parser.add_argument("--all", action="store_true", help="print every question with its answer")
    parser.add_argument(
        "--show-held-out",
        action="store_true",
        help="also print details for held-out questions (never while tuning: it makes them dev questions)",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    index = PolicyIndex.from_path(args.policy)
    built = time.perf_counter() - started
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))

    for set_name in ("dev", "held_out", "blind"):
        questions = [q for q in data["questions"] if q["set"] == set_name]
        top1 = top3 = covered = answered_right = 0
        for q in questions:
            matches = index.search(q["q"], limit=3)
            answer = index.answer(q["q"])
            ok1 = bool(matches) and section_matches(matches[0].section, q["expected"])
            ok3 = any(section_matches(m.section, q["expected"]) for m in matches)
            top1 += ok1
            top3 += ok3
            covered += not isinstance(answer, NotCovered)
            answered_right += not isinstance(answer, NotCovered) and section_matches(answer.section, q["expected"])
            details = set_name == "dev" or args.show_held_out
            if details and (args.all or (args.misses and (not ok1 or isinstance(answer, NotCovered)))):
                mark = "ok " if ok1 else ("~3 " if ok3 else "XX ")
                print(f"{mark}[{set_name}] {q['q']!r} conf={answer.confidence}")
                print(f"     tokens: {index.question_tokens(q['q'])}")
                print(f"     expected: {q['expected']}")
                for m in matches:
                    print(f"     -> {m.section} ({m.score:.2f}): {m.passage.text[:90]!r}")
        n = len(questions)
        print(
            f"{set_name}: {n} questions; answer() right section {answered_right}/{n} = {answered_right / n:.1%} "
            f"(answered at all {covered}/{n}); search top-1 {top1}/{n} = {top1 / n:.1%}, "
            f"top-3 {top3}/{n} = {top3 / n:.1%}"
        )

    for set_name in ("dev", "held_out", "blind"):
        oos = [q for q in data["out_of_scope"] if q["set"] == set_name]
        refused = 0
        for q in oos:
            answer = index.answer(q["q"])
            refused += isinstance(answer, NotCovered)
            details = set_name == "dev" or args.show_held_out
            if details and (args.all or (args.misses and not isinstance(answer, NotCovered))):
                print(f"OOS [{set_name}] {q['q']!r} conf={answer.confidence} tokens={index.question_tokens(q['q'])}")
                if not isinstance(answer, NotCovered):
                    print(f"     -> answered from {answer.section}: {answer.quotes[0].text[:90]!r}")
        print(f"out of scope {set_name}: {refused}/{len(oos)} NotCovered")

    started = time.perf_counter()
    asked = [q["q"] for q in data["questions"]] * 5
    for question in asked:
        index.answer(question)
    per_question = (time.perf_counter() - started) / len(asked)
    print(f"index built in {built * 1000:.0f} ms; {per_question * 1000:.2f} ms per answer")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
