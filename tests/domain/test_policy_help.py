"""Ask the policy: answers quoted from the school's own policy, and the cards that show them.

The unit tests run on the bundled sample policy (always present). The accuracy tests run on the school's
real policy in ../shared/reference/ and skip, saying why, where that file is absent.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cards.base import parse_card
from cards.policy_help import START_FLOW_VERB, policy_answer_card, policy_not_covered_card
from domain.policy_help import (
    NOT_COVERED_MESSAGE,
    SAMPLE_POLICY_PATH,
    SECTION_SEPARATOR,
    NotCovered,
    PolicyAnswer,
    PolicyIndex,
    PolicyLoadError,
    SuggestedFlow,
    load_policy_index,
    parse_policy,
)

REPO = Path(__file__).resolve().parents[2]
REAL_POLICY = Path(__file__).resolve().parents[3] / "shared" / "reference" / "social-media-policy.txt"
QUESTIONS = json.loads((Path(__file__).parent.parent / "data" / "policy_questions.json").read_text(encoding="utf-8"))

needs_real_policy = pytest.mark.skipif(
    not REAL_POLICY.is_file(),
    reason=f"the school's real policy is not here ({REAL_POLICY}); it sits beside the repository in shared/",
)


@pytest.fixture(scope="module")
def sample() -> PolicyIndex:
    return load_policy_index(None)


@pytest.fixture(scope="module")
def real() -> PolicyIndex:
    return PolicyIndex.from_path(REAL_POLICY)


def _answered(answer: PolicyAnswer | NotCovered) -> PolicyAnswer:
    assert isinstance(answer, PolicyAnswer), f"expected an answer, got NotCovered for {answer.question!r}"
    return answer


def _in_section(found: str, expected: list[str]) -> bool:
    return any(found == e or found.startswith(e + SECTION_SEPARATOR) for e in expected)


def _texts(node: Any) -> Iterator[str]:
    """Every TextBlock text in a card's JSON."""
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            yield node["text"]
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


# --- The sample policy and loading ---------------------------------------------------------------


def test_the_sample_policy_says_at_its_top_that_it_is_a_sample() -> None:
    top = SAMPLE_POLICY_PATH.read_text(encoding="utf-8")[:400]
    assert "SAMPLE POLICY" in top
    assert "not the policy of any real school" in top


def test_no_configured_policy_means_the_sample(sample: PolicyIndex) -> None:
    assert sample.document.source == str(SAMPLE_POLICY_PATH)
    assert sample.document.title == "Sample Social Media Policy"


def test_markdown_headings_become_section_paths_without_the_title(sample: PolicyIndex) -> None:
    names = [s.name for s in sample.document.sections]
    assert "Personal use › Staff" in names
    assert "Personal use › Parents and carers" in names
    assert "Appendix 1: do's and don'ts › The Do nots" in names
    assert not any(n.startswith("Sample Social Media Policy ›") for n in names)


def test_every_passage_is_the_policy_text_at_its_offsets(sample: PolicyIndex) -> None:
    text = sample.document.text
    for passage in sample.document.passages:
        assert text[passage.start : passage.end] == passage.text


def test_a_short_list_is_quoted_with_the_line_that_introduces_it(sample: PolicyIndex) -> None:
    (business_case,) = [p for p in sample.passages if "business case" in p.text]
    assert business_case.text.startswith("Anyone who wants a new school social media account")
    assert business_case.text.endswith("- whether it is open or private.")


PLAIN_POLICY = """\
Our values come first.

Acceptable Use Policy

Introduction

Everyone here uses the internet with care.

Personal use

Staff

- Staff must not share their passwords with pupils.

Pupils

- Pupils log in with their own accounts only.

Governors

- Governors follow the same rules as staff.

Reporting problems at school

Report a problem to the office the same day. Tell the office:
- what happened;
- when it happened.

Appendix 1

A checklist for the first week:

Before you start

- Read this policy.
"""


def test_plain_text_headings_are_found_and_nested() -> None:
    document = parse_policy(PLAIN_POLICY)
    assert document.title == "Acceptable Use Policy"
    assert [s.name for s in document.sections] == [
        "Acceptable Use Policy",
        "Introduction",
        "Personal use › Staff",
        "Personal use › Pupils",
        "Personal use › Governors",
        "Reporting problems at school",
        "Appendix 1",
        "Appendix 1 › Before you start",
    ]
    (reporting,) = [s for s in document.sections if s.name == "Reporting problems at school"]
    assert [p.text for p in reporting.passages] == [
        "Report a problem to the office the same day. Tell the office:\n- what happened;\n- when it happened."
    ]


def test_windows_line_endings_and_a_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    policy = tmp_path / "policy.txt"
    policy.write_bytes(("\ufeff" + PLAIN_POLICY.replace("\n", "\r\n")).encode("utf-8"))
    index = PolicyIndex.from_path(policy)
    assert "Personal use › Staff" in [s.name for s in index.document.sections]
    assert all("\r" not in p.text for p in index.passages)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"", "is empty"), (b"   \n\n", "is empty"), (b"\xff\xfe\x00bad", "not UTF-8")],
)
def test_an_unusable_policy_file_is_a_clear_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    policy = tmp_path / "policy.md"
    if content is not None:
        policy.write_bytes(content)
    with pytest.raises(PolicyLoadError, match=message):
        PolicyIndex.from_path(policy)


# --- Answers on the sample policy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("can I accept a friend request from a former pupil?", "Personal use › Staff"),
        ("can i acept a freind requst from a formr pupil", "Personal use › Staff"),  # typos
        ("is it ok to add an ex-student on insta", "Personal use › Staff"),  # vocabulary
        ("a parent posted a rude comment about a teacher what do I do", "Handling abuse"),
        ("someone from the local paper rang about our facebook post", "Behaviour"),
        ("how do I set up a twitter account for my class", "Process for creating new accounts"),
        ("can I upload pics of my class to the school facebook", "Use of images"),
        ("who keeps the password for the school instagram", "Roles and responsibilities › Account administrators"),
    ],
)
def test_a_question_is_answered_from_the_section_that_covers_it(
    sample: PolicyIndex, question: str, section: str
) -> None:
    answer = _answered(sample.answer(question))
    assert answer.section == section
    assert 1 <= len(answer.quotes) <= 2


@pytest.mark.parametrize(
    "question",
    [
        "what time is the staff meeting",
        "how many days of annual leave do I get",
        "where can I park my car",
        "",
        "???",
        "the",
    ],
)
def test_a_question_the_policy_does_not_cover_gets_not_covered(sample: PolicyIndex, question: str) -> None:
    answer = sample.answer(question)
    assert isinstance(answer, NotCovered)
    assert answer.message == NOT_COVERED_MESSAGE
    assert "SLT" in answer.message


def test_quotes_are_verbatim_passages_of_the_policy(sample: PolicyIndex) -> None:
    questions = [
        "can parents post photos of the sports day",
        "can I say on my own instagram that I work here",
        "what should I do about online bullying",
        "what are the dos and donts",
    ]
    for question in questions:
        for quote in _answered(sample.answer(question)).quotes:
            assert quote.text in sample.document.text


@pytest.mark.parametrize(
    ("question", "flows"),
    [
        ("a parent posted a rude comment about a teacher what do I do", {SuggestedFlow.REPORT_INCIDENT}),
        ("can I upload pics of my class to the school facebook", {SuggestedFlow.CHECK_PHOTO}),
        ("how do I set up a twitter account for my class", {SuggestedFlow.PROPOSE_ACCOUNT}),
        ("can I accept a friend request from a former pupil?", set()),
    ],
)
def test_answers_offer_the_flow_that_applies(sample: PolicyIndex, question: str, flows: set[SuggestedFlow]) -> None:
    assert set(_answered(sample.answer(question)).flows) == flows


def test_what_to_do_restates_the_section_when_the_policy_says_it(sample: PolicyIndex) -> None:
    answer = _answered(sample.answer("someone left an abusive comment on the school facebook page"))
    assert answer.section == "Handling abuse"
    assert answer.what_to_do_source == "summary"
    assert "Head Teacher" in answer.what_to_do


def test_a_changed_policy_changes_the_answers_with_no_code_change(tmp_path: Path) -> None:
    question = "can I accept a friend request from a former pupil?"
    policy = tmp_path / "policy.md"
    policy.write_text(
        "# Our policy\n\n## Personal use\n\n"
        "- Staff may accept friend requests from former pupils once they are 18 or over.\n\n"
        "## Handling abuse\n\n- Offensive comments are passed to the governors' clerk.\n",
        encoding="utf-8",
    )
    answer = _answered(PolicyIndex.from_path(policy).answer(question))
    assert answer.section == "Personal use"
    assert answer.quotes[0].text == "Staff may accept friend requests from former pupils once they are 18 or over."
    # The fixed line about friending pupils needs words this policy no longer has: it is not used.
    assert answer.what_to_do_source in ("quote", "generic")
    assert "friend" not in answer.what_to_do.replace(answer.quotes[0].text, "")

    abuse = _answered(PolicyIndex.from_path(policy).answer("what do I do about offensive comments"))
    assert abuse.section == "Handling abuse"
    assert "Head Teacher" not in abuse.what_to_do  # the fixed line needs the words the new text lacks


def test_a_very_long_question_is_answered_quickly(sample: PolicyIndex) -> None:
    question = "can I post a photo of my class on facebook " * 500
    started = time.perf_counter()
    sample.answer(question)
    assert time.perf_counter() - started < 2.0


# --- Cards ------------------------------------------------------------------------------------------


def test_the_answer_card_quotes_the_policy_with_section_names(sample: PolicyIndex) -> None:
    answer = _answered(sample.answer("a parent posted a rude comment about a teacher what do I do"))
    card = policy_answer_card(answer).to_dict()
    texts = list(_texts(card))
    assert "Handling abuse" in texts
    assert any("Refer offensive comments" in t for t in texts)
    assert parse_card(card).to_dict() == card


def test_the_answer_card_has_a_button_per_suggested_flow(sample: PolicyIndex) -> None:
    answer = _answered(sample.answer("can I upload pics of my class to the school facebook"))
    card = policy_answer_card(answer).to_dict()
    assert card["actions"] == [
        {"type": "Action.Submit", "title": "Check a photo", "data": {"verb": START_FLOW_VERB, "flow": "check_photo"}}
    ]


def test_an_answer_with_no_flow_has_no_buttons(sample: PolicyIndex) -> None:
    answer = _answered(sample.answer("can I accept a friend request from a former pupil?"))
    assert "actions" not in policy_answer_card(answer).to_dict()


def test_markdown_in_the_question_cannot_inject_into_the_card(sample: PolicyIndex) -> None:
    question = "can I post a **photo** of my class? [click here](https://evil.example) # now _shout_ <b>"
    for answer in (sample.answer(question), NotCovered(question=question, confidence=0.0)):
        card = policy_answer_card(answer).to_dict()
        (echo,) = [t for t in _texts(card) if t.startswith("You asked:")]
        assert "\\[click here\\]\\(https\\[:\\]//evil\\[.\\]example\\)" in echo
        assert "\\*\\*photo\\*\\*" in echo and "\\# now \\_shout\\_ \\<b\\>" in echo
        for text in _texts(card):
            assert not re.search(r"(?<!\\)[\[\]*_#<]", text), text


def test_markdown_in_the_policy_is_shown_as_text(sample: PolicyIndex) -> None:
    answer = _answered(sample.answer("is this a sample policy of a real school"))
    card = policy_answer_card(answer).to_dict()
    for text in _texts(card):
        assert not re.search(r"(?<!\\)[\[\]*_#<>]", text), text


def test_the_not_covered_card_points_to_slt_and_offers_no_rule(sample: PolicyIndex) -> None:
    answer = sample.answer("how many days of annual leave do I get")
    assert isinstance(answer, NotCovered)
    card = policy_not_covered_card(answer).to_dict()
    assert card == policy_answer_card(answer).to_dict()
    texts = " ".join(_texts(card))
    assert "doesn't say" in texts and "SLT" in texts
    assert "actions" not in card
    assert parse_card(card).to_dict() == card


# --- The school's real policy ---------------------------------------------------------------------


@needs_real_policy
def test_the_real_policy_is_split_at_its_headings(real: PolicyIndex) -> None:
    names = {s.name for s in real.document.sections}
    assert real.document.title == "Social Media Policy"
    for expected in (
        "Use of images",
        "Personal use › Staff",
        "Personal use › Pupil/Students",
        "Personal use › Parents/Carers",
        "Handling abuse",
        "Behaviour",
        "Tone",
        "Process for creating new accounts",
        "Organisational control › Roles & Responsibilities › Administrator / Moderator",
        "Appendix 1",
        "Appendix 1 › Managing school social media accounts › The Do's",
        "Appendix 1 › Managing school social media accounts › The Do nots",
    ):
        assert expected in names


@needs_real_policy
def test_every_expected_section_in_the_question_set_exists(real: PolicyIndex) -> None:
    names = [s.name for s in real.document.sections]
    assert len([q for q in QUESTIONS["questions"] if q["set"] == "dev"]) >= 45
    assert len(QUESTIONS["out_of_scope"]) >= 8
    for question in QUESTIONS["questions"]:
        for expected in question["expected"]:
            assert any(_in_section(n, [expected]) for n in names), (question["q"], expected)


def _score(index: PolicyIndex, questions: list[dict[str, Any]]) -> tuple[float, float]:
    """Top-1 (the answer, which must not be NotCovered) and top-3 (the ranked sections) accuracy."""
    top1 = top3 = 0
    for question in questions:
        answer = index.answer(question["q"])
        top1 += isinstance(answer, PolicyAnswer) and _in_section(answer.section, question["expected"])
        top3 += any(_in_section(m.section, question["expected"]) for m in index.search(question["q"], limit=3))
    return top1 / len(questions), top3 / len(questions)


@needs_real_policy
def test_section_accuracy_on_the_question_set(real: PolicyIndex, capsys: pytest.CaptureFixture[str]) -> None:
    questions = QUESTIONS["questions"]
    top1, top3 = _score(real, questions)
    with capsys.disabled():
        for set_name in ("dev", "held_out", "blind"):
            subset = [q for q in questions if q["set"] == set_name]
            s1, s3 = _score(real, subset)
            print(f"\npolicy help, {set_name} ({len(subset)} questions): top-1 {s1:.1%}, top-3 {s3:.1%}", end="")
        print(f"\npolicy help, all ({len(questions)} questions): top-1 {top1:.1%}, top-3 {top3:.1%}")
    assert top1 >= 0.85
    assert top3 >= 0.95


@needs_real_policy
def test_questions_the_real_policy_does_not_cover_get_not_covered(real: PolicyIndex) -> None:
    for question in QUESTIONS["out_of_scope"]:
        answer = real.answer(question["q"])
        if "known_failure" in question:
            # Listed so the figure stays honest; when it starts passing, remove the marker.
            assert isinstance(answer, PolicyAnswer), f"{question['q']!r} now passes: remove known_failure"
        else:
            assert isinstance(answer, NotCovered), (question["q"], answer)


@needs_real_policy
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("can I accept a friend request from a former pupil?", ["Personal use › Staff", "Appendix 1"]),
        (
            "can I say on my own instagram that I work here",
            ["Personal use › Staff", "Scope", "Organisational control › Roles & Responsibilities › Staff"],
        ),
        (
            "a parent posted a rude comment about a teacher what do I do",
            ["Personal use › Parents/Carers", "Handling abuse", "Monitoring posts about the school"],
        ),
        (
            "can I use my phone on the school trip to take pics",
            ["Use of images", "Safeguarding of Children", "Procedures"],
        ),
        ("someone from the local paper rang about our facebook post", ["Behaviour"]),
    ],
)
def test_the_questions_from_the_issue(real: PolicyIndex, question: str, expected: list[str]) -> None:
    answer = _answered(real.answer(question))
    assert _in_section(answer.section, expected)
    for quote in answer.quotes:
        assert quote.text in real.document.text


@needs_real_policy
def test_every_quote_from_the_real_policy_is_verbatim(real: PolicyIndex) -> None:
    source = REAL_POLICY.read_text(encoding="utf-8")
    for question in QUESTIONS["questions"]:
        answer = real.answer(question["q"])
        if isinstance(answer, PolicyAnswer):
            for quote in answer.quotes:
                assert quote.text in source
