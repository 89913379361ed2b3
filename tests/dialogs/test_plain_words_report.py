"""Plain words (issue 15, gap 9): a message that reads like a report offers the report button first, before any
policy quotes; ordinary questions still get the policy's answer, without the offer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialogs.router import Router, TextKind
from domain.commands import looks_like_question
from domain.flows import Flow
from tests.support.incidents_world import School

QUESTIONS = json.loads((Path(__file__).resolve().parents[1] / "data" / "policy_questions.json").read_text("utf-8"))

REPORTS = [
    "I need to report something",
    "There's a nasty post about Mr Carter on the parents facebook group",
    "i want to report a comment on the school page",
    "I'd like to report a post",
    "Someone has posted a photo of Year 3 on TikTok",
    "A parent posted an abusive comment under our Christmas post",
    "one of my pupils is being bullied on snapchat",
    "I have seen an offensive video about the school",
    "I've just been sent a screenshot of a group chat",
    "There is a fake instagram account using the school logo",
    "someone is sharing pictures of the sports day on facebook",
    "A former pupil has sent me a message on instagram",
    "There are racist comments on the school facebook page",
    "a dad is posting horrible things about a teacher on whatsapp",
    "Reporting a post about Mrs Smith",
    "I found a threatening message about a pupil online",
    "A colleague posted inappropriate photos of the class trip",
    "there was a really upsetting tweet about our school today",
    "A pupil is being harassed on roblox",
    "I noticed a nasty comment on the PTA page",
    "I'm reporting a data breach, a spreadsheet was shared on facebook",
    "a mum has shared a video of the nativity with other children in it",
]

ORDINARY = [
    "Can I accept a friend request from a former pupil?",
    "can I say on my own instagram that I work here",
    "can I use my phone on the school trip to take pics",
    "Do I need to check consent before posting photos of pupils on the school facebook page?",
    "how do I set up a twitter account for my class",
    "what do I need to include in the business case for a new school instagram",
    "who approves a new school social media account",
    "how many members of staff have to run a school account",
    "do the school social media accounts need checking over the holidays",
    "what tone should posts on the school account have",
    "can I check facebook on my break at school",
    "are pupils allowed to use social media in school",
    "can we put pupils photos on the school website",
    "when is parental permission for photos collected",
    "what is the prevent duty",
    "can I use the school logo on my personal twitter",
    "who keeps the password for the school facebook account",
    "does the policy apply to what I post at the weekend from home",
    "can pupils follow teachers on social media",
    "what happens if staff break the social media policy",
    "ask can I friend a parent?",
    "is it ok to take pictures of pupils on my personal mobile",
]


@pytest.fixture
async def router(sqlite_url: str) -> AsyncIterator[Router]:
    world = await School.open(sqlite_url)
    yield world.router
    await world.close()


@pytest.mark.parametrize("text", REPORTS)
async def test_a_message_that_reads_like_a_report_offers_the_report_first(router: Router, text: str) -> None:
    match = router.match_text(text)
    assert match.offer_report, text
    assert match.kind is TextKind.FLOW and match.flow is Flow.ASK_POLICY  # the policy's answer follows the offer


@pytest.mark.parametrize("text", ORDINARY)
async def test_an_ordinary_question_gets_the_policy_answer_without_the_offer(router: Router, text: str) -> None:
    match = router.match_text(text)
    assert match.kind is TextKind.FLOW and match.flow is Flow.ASK_POLICY and not match.offer_report, text


async def test_every_question_of_the_policy_set_that_was_asked_still_is(router: Router) -> None:
    """The questions the router sent to the policy before still go there (the ones that read like reports now with
    the offer first); the report-like ones that used to get the help card now get the offer and the answer."""
    for question in QUESTIONS["questions"]:
        text = question["q"]
        match = router.match_text(text)
        if match.flow in (Flow.CHECK_PHOTO, Flow.PROPOSE_ACCOUNT):
            continue  # a flow's own phrase ("can I use the photo..."), as before
        if looks_like_question(text.lower()) or match.offer_report:
            assert match.kind is TextKind.FLOW and match.flow is Flow.ASK_POLICY, text
    for text in ("a dad put a video of sports day with other kids in it on tiktok",
                 "parnet posted abusive coment on the school facebok page",
                 "another member of staff keeps posting nasty things about me on facebook",
                 "someone from the local paper rang about our facebook post"):
        assert router.match_text(text).offer_report, text


async def test_commands_and_the_report_command_are_unchanged(router: Router) -> None:
    assert router.match_text("report").flow is Flow.REPORT_INCIDENT
    assert router.match_text("my reports").kind is TextKind.COMMAND
    assert not router.match_text("hello").offer_report
