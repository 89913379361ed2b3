"""Choosing what a report is about in plain words (issue 15, gap 8): a few plain questions that end on exactly one
category.

Fifteen categories at once were too many, and two of them overlapped. So the first question is who or what the report
is about (a pupil, a member of staff, the school, a journalist or the media, personal data, something else), each
with a one-line example; where that is not yet one category, a second short question ends on exactly one. Every
category of ``domain.incidents.Category`` is offered by exactly one path (``paths``; a test walks them all), so two
people describing the same thing land on the same category, with its own guidance and routing.

Where the policy draws the line between two categories it is drawn here the same way:

- **A nasty post about a member of staff** (by a parent, a pupil or anyone outside the staff) is *abuse or harassment
  of a member of staff*: the policy's Behaviour section reports "offensive, harassing content" to the Head Teacher,
  and Parents/Carers asks parents not to "post malicious or fictitious comments ... about any member of the school
  community". SLT still see that a report was made (that category's channel card), as Monitoring posts about the
  school asks. *Negative or damaging comment about the school* is then about the school itself, not a person.
- **Something a member of staff has done** is an *allegation about a member of staff* (the Management of Allegations
  Policy, Objectives), contact with pupils on social media being its own category; anything about the Head Teacher
  goes to the Chair of Governors, whatever it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.incidents import Category


class Topic(StrEnum):
    """The first plain question: who or what is the report about?"""

    PUPIL = "pupil"
    STAFF = "staff"
    SCHOOL = "school"
    MEDIA = "media"
    PERSONAL_DATA = "personal_data"
    OTHER = "other"


@dataclass(frozen=True)
class Answer:
    """One answer to a plain question: a short label (a button on a phone), a one-line example, and the category it
    ends on."""

    label: str
    example: str
    category: Category


@dataclass(frozen=True)
class TopicQuestion:
    """A first answer and, when it does not yet name one category, the second question with its answers."""

    topic: Topic
    label: str
    example: str
    question: str  # the second question (unused when there is one answer)
    answers: tuple[Answer, ...]

    @property
    def ends_at_once(self) -> Category | None:
        """The category this first answer ends on by itself (no second question), else None."""
        return self.answers[0].category if len(self.answers) == 1 else None


FIRST_QUESTION = "Who or what is it about?"

TOPICS: dict[Topic, TopicQuestion] = {
    question.topic: question
    for question in (
        TopicQuestion(
            Topic.PUPIL, "A pupil", "e.g. a pupil bullied online, at risk, or in a photo that should not be shared",
            "What has happened to the pupil?",
            (
                Answer("They may be at risk of harm", "e.g. an adult online asked to meet them; they said something "
                       "worrying", Category.PUPIL_SAFETY),
                Answer("Bullied online, or bullying", "e.g. nasty messages in a class group chat",
                       Category.BULLYING_PUPIL),
                Answer("A photo or video of them", "e.g. a compromising picture, or one that must not be published",
                       Category.INAPPROPRIATE_IMAGE),
                Answer("Extremism (Prevent)", "e.g. extremist material shared with pupils, or a pupil being drawn in",
                       Category.EXTREMISM),
            ),
        ),
        TopicQuestion(
            Topic.STAFF, "A member of staff", "e.g. a parent's nasty post about a teacher, or a colleague following "
            "pupils", "What is it?",
            (
                Answer("A post attacking them", "e.g. a parent's nasty post about a teacher on a Facebook group",
                       Category.BULLYING_STAFF),
                Answer("In contact with pupils online", "e.g. a colleague follows, friends or messages a pupil",
                       Category.STAFF_PUPIL_CONTACT),
                Answer("Something they have done", "e.g. a colleague posting abuse, or sharing confidential "
                       "information", Category.ALLEGATION_ABOUT_STAFF),
                Answer("It is about the Head Teacher", "anything about the Head Teacher: it goes to the Chair of "
                       "Governors", Category.ABOUT_HEAD_TEACHER),
            ),
        ),
        TopicQuestion(
            Topic.SCHOOL, "The school", "e.g. a complaint about the school online, abuse on its page, or praise",
            "What kind of post?",
            (
                Answer("Criticism of the school", "e.g. a parent complains online about a school decision",
                       Category.NEGATIVE_COMMENT),
                Answer("Offensive or abusive", "e.g. swearing or abuse on the school's own page or feed",
                       Category.OFFENSIVE_CONTENT),
                Answer("Praise", "e.g. a parent thanks the school online", Category.PRAISE),
            ),
        ),
        TopicQuestion(
            Topic.MEDIA, "A journalist or the media", "e.g. a reporter rang or emailed asking about a post", "",
            (Answer("A media enquiry", "press, radio or TV", Category.MEDIA_ENQUIRY),),
        ),
        TopicQuestion(
            Topic.PERSONAL_DATA, "Personal data", "e.g. pupils' details sent to the wrong person, or posted online",
            "", (Answer("Personal data", "a possible data protection breach", Category.DATA_BREACH),),
        ),
        TopicQuestion(
            Topic.OTHER, "Something else", "e.g. someone's work shared without permission, or anything not above",
            "Which is closest?",
            (
                Answer("Copyright", "e.g. a photo or text shared without the owner's permission", Category.COPYRIGHT),
                Answer("Anything else", "SLT make an initial assessment", Category.OTHER),
            ),
        ),
    )
}


def paths() -> list[tuple[Topic, Category]]:
    """Every way through the questions: (first answer, the category it ends on)."""
    return [(topic, answer.category) for topic, question in TOPICS.items() for answer in question.answers]


def offered() -> frozenset[Category]:
    """The categories the questions offer (every ``Category``: none is retired)."""
    return frozenset(category for _, category in paths())


def topic_of(category: Category) -> Topic:
    """The first answer whose path ends on ``category`` (each category has exactly one)."""
    for topic, found in paths():
        if found is category:
            return topic
    raise KeyError(category)
