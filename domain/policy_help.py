"""Ask the policy: answer staff questions by quoting the school's own social media policy.

The policy (plain text or Markdown) is split into sections and the sections into passages small enough
to quote: a paragraph, a bullet with its sub-bullets, or a short list with the line that introduces it.
Each passage knows its section path ("Personal use › Staff"). The passages are indexed with BM25
(`bm25s`) once, at start-up. A question is normalised the same way as the policy (school vocabulary,
a light stemmer, typo repair) and answered with the best one or two passages, quoted verbatim.

Nothing here writes a rule. Quotes are exact substrings of the policy text; the "what to do" line is a
fixed restatement of what a section says, used only while the section still contains the words it
restates (otherwise a directive sentence of the quoted passage is used, verbatim); questions that match
the policy too weakly get `NotCovered` ("the policy doesn't say; ask SLT").

Heading detection:
    * Markdown: ATX (`## Use of images`) and setext (underlined) headings give the levels; a single
      leading level-1 heading is the document's title and is left out of section paths.
    * Plain text (no Markdown heading anywhere): a heading is a line standing alone between blank lines,
      at most ten words and 80 characters, starting with a capital, not ending in punctuation, not a
      bullet and not a web address. Levels are inferred: a heading that directly follows another heading
      is its sub-heading; after body text, a short heading (three words or fewer) stays a sibling of
      the previous short sub-heading ("Staff", "Pupil/Students", "Parents/Carers"), any other heading
      starts a new top-level section; "Appendix 1", "Annex B", "Part 2"... always start a new part, and
      the headings that follow belong to it. The first heading is the title when a heading follows it
      directly. Schools that want an exact structure can write the policy in Markdown.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final, Literal

import bm25s
import numpy as np
from pydantic import BaseModel, ConfigDict

logger = logging.getLogger(__name__)

SAMPLE_POLICY_PATH: Final = Path(__file__).parent / "policy_text" / "sample-policy.md"
SECTION_SEPARATOR: Final = " › "
# The sample says so at its top; a copy of it elsewhere is still the sample.
SAMPLE_MARKER: Final = "It is not the policy of any real school"
_SAMPLE_MARKER_WITHIN: Final = 600

# When the policy covers a question. Chosen on the development questions (tests/data), where every
# answerable question matched two or more words and every out-of-scope one at most one.
# A question is answered only when its best passage holds at least this share of the question's
# information (the IDF mass of its words; words the policy never uses count as the rarest) ...
DEFAULT_MIN_CONFIDENCE: Final = 0.3
# ... at least this many of its distinct words (or all of them, if it has fewer) ...
_MIN_MATCHED_TERMS: Final = 2
# ... and matched words that together carry this share of the information of a word found in one passage
# only, so that a question made only of words found everywhere in the policy ("school", "policy") is not
# answered. (A share, not a number: IDF grows with the number of passages.)
_MIN_MATCHED_RAREST_SHARE: Final = 0.4
# A second passage is quoted only when it scores at least this share of the best one.
_SECOND_QUOTE_RATIO: Final = 0.6
_MAX_QUESTION_CHARS: Final = 500  # longer messages are cut before analysis (work bounded per message)
_MAX_SECTION_DEPTH: Final = 3  # inferred plain-text nesting never goes deeper than this
_SHORT_HEADING_WORDS: Final = 3  # "Staff", "Pupil/Students", "The Do nots": audience-style sub-headings
_MAX_HEADING_WORDS: Final = 10
_MAX_HEADING_CHARS: Final = 80
_MERGE_LIST_MAX_ITEMS: Final = 8  # a short list is quoted whole with the line that introduces it ...
_MERGE_LIST_MAX_ITEM_WORDS: Final = 15  # ... when every item is at most this long
_MIN_PASSAGE_TOKENS: Final = 2  # "Signed:" is not a passage worth quoting
# Passages in sections for pupils or parents count for this much when a member of staff asks "can I".
_OTHER_AUDIENCE_WEIGHT: Final = 0.8
_PAIR_WEIGHT: Final = 0.3  # weight of the word-pair index beside the single-word one
_BM25_K1: Final = 1.2
_BM25_B: Final = 0.75

NOT_COVERED_MESSAGE: Final = (
    "The policy doesn't say anything clear about this. Please ask a member of the senior leadership team (SLT)."
)
GENERIC_WHAT_TO_DO: Final = "Follow the passage quoted above; if you are unsure how it applies, ask SLT."


class PolicyLoadError(Exception):
    """The policy file cannot be used: missing, unreadable, empty or with nothing to quote."""


class SuggestedFlow(StrEnum):
    """A bot flow that an answer can offer as a button."""

    REPORT_INCIDENT = "report_incident"
    CHECK_PHOTO = "check_photo"
    PROPOSE_ACCOUNT = "propose_account"


class PolicyPassage(BaseModel):
    """A quotable piece of the policy: its verbatim text and where it sits."""

    model_config = ConfigDict(frozen=True)

    section: tuple[str, ...]
    text: str
    start: int
    end: int
    lead_in: str | None = None

    @property
    def section_name(self) -> str:
        return SECTION_SEPARATOR.join(self.section)


class PolicySection(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: tuple[str, ...]
    passages: tuple[PolicyPassage, ...]

    @property
    def name(self) -> str:
        return SECTION_SEPARATOR.join(self.path)


class PolicyDocument(BaseModel):
    """The policy as parsed: its (newline-normalised) text, title and sections in document order."""

    model_config = ConfigDict(frozen=True)

    text: str
    title: str | None
    sections: tuple[PolicySection, ...]
    source: str

    @property
    def passages(self) -> tuple[PolicyPassage, ...]:
        return tuple(p for s in self.sections for p in s.passages)

    @property
    def is_sample(self) -> bool:
        """The bundled sample (or a copy of it): never to be taken for the school's own policy."""
        return self.source == str(SAMPLE_POLICY_PATH) or SAMPLE_MARKER in self.text[:_SAMPLE_MARKER_WITHIN]


class PolicyQuote(BaseModel):
    model_config = ConfigDict(frozen=True)

    section: str
    text: str
    score: float


class SectionMatch(BaseModel):
    """One section in a ranked search result, with its best passage."""

    model_config = ConfigDict(frozen=True)

    section: str
    score: float
    passage: PolicyPassage


class PolicyAnswer(BaseModel):
    """The policy covers the question: one or two verbatim quotes, a what-to-do line, flows to offer."""

    model_config = ConfigDict(frozen=True)

    covered: Literal[True] = True
    question: str
    quotes: tuple[PolicyQuote, ...]
    what_to_do: str
    what_to_do_source: Literal["summary", "quote", "generic"]
    flows: tuple[SuggestedFlow, ...]
    confidence: float
    from_sample: bool = False  # answered from the bundled sample, not the school's policy

    @property
    def section(self) -> str:
        return self.quotes[0].section


class NotCovered(BaseModel):
    """Nothing in the policy matches well enough: say so and point to SLT."""

    model_config = ConfigDict(frozen=True)

    covered: Literal[False] = False
    question: str
    message: str = NOT_COVERED_MESSAGE
    confidence: float
    from_sample: bool = False


# --- Parsing ------------------------------------------------------------------------------------

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_BULLET = re.compile(r"^([ \t]*)([-*+•▪◦·‣–]|\d{1,2}[.)]|\(?[a-z][.)])[ \t]+(?=\S)")
_SYMBOL_BULLET = re.compile(r"^[ \t]*[-*+•▪◦·‣–][ \t]+")
_PART_HEADING = re.compile(r"^(appendix|appendices|annex|annexe|schedule|part)\b(\s+([0-9]+|[ivxlc]+|[a-z])\b)?", re.I)
_BOLD_ONLY = re.compile(r"^\*\*(.+)\*\*$|^__(.+)__$")
_WORD = re.compile(r"[A-Za-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"'(])")


@dataclass
class _Line:
    text: str
    start: int
    end: int

    @property
    def indent(self) -> int:
        return len(self.text) - len(self.text.lstrip(" \t"))


@dataclass
class _Block:
    kind: Literal["heading", "paragraph", "bullet"]
    lines: list[_Line]
    level: int = 0  # Markdown heading level; 0 for plain text
    name: str = ""


def _split_lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    pos = 0
    for raw in text.split("\n"):
        lines.append(_Line(raw, pos, pos + len(raw)))
        pos += len(raw) + 1
    return lines


def _blocks(text: str) -> tuple[list[_Block], bool]:
    """Cut the text into headings, paragraphs and bullets; say whether Markdown headings were seen."""
    blocks: list[_Block] = []
    current: _Block | None = None
    saw_markdown = False
    for line in _split_lines(text):
        stripped = line.text.strip()
        if not stripped:
            current = None
            continue
        atx = _ATX_HEADING.match(line.text)
        if atx:
            saw_markdown = True
            blocks.append(_Block("heading", [line], level=len(atx.group(1)), name=_clean_heading(atx.group(2))))
            current = None
            continue
        if (
            _SETEXT_UNDERLINE.match(line.text)
            and current is not None
            and current.kind == "paragraph"
            and len(current.lines) == 1
        ):
            saw_markdown = True
            current.kind = "heading"
            current.level = 1 if stripped.startswith("=") else 2
            current.name = _clean_heading(current.lines[0].text)
            current = None
            continue
        bullet = _BULLET.match(line.text)
        if bullet:
            if current is not None and current.kind == "bullet" and line.indent > current.lines[0].indent:
                current.lines.append(line)  # a sub-bullet belongs with its parent bullet
            else:
                current = _Block("bullet", [line])
                blocks.append(current)
            continue
        if current is not None:
            current.lines.append(line)  # continuation of a paragraph or of a bullet
        else:
            current = _Block("paragraph", [line])
            blocks.append(current)
    return blocks, saw_markdown


def _clean_heading(text: str) -> str:
    text = text.strip()
    bold = _BOLD_ONLY.match(text)
    if bold:
        text = (bold.group(1) or bold.group(2)).strip()
    return text


def _is_plain_heading(block: _Block) -> bool:
    if block.kind != "paragraph" or len(block.lines) != 1:
        return False
    text = _clean_heading(block.lines[0].text)
    words = _WORD.findall(text)
    if not words or len(words) > _MAX_HEADING_WORDS or len(text) > _MAX_HEADING_CHARS:
        return False
    if text[-1] in ".,;:!?-" or "://" in text or text.lower().startswith("www."):
        return False
    first_letter = next((c for c in text if c.isalpha()), "")
    return first_letter.isupper()


def _word_count(name: str) -> int:
    return len([w for w in _WORD.findall(name) if not w.isdigit()])


def _markdown_paths(blocks: list[_Block]) -> tuple[str | None, dict[int, tuple[str, ...]]]:
    headings = [(i, b) for i, b in enumerate(blocks) if b.kind == "heading"]
    title: str | None = None
    top_level = [b for _, b in headings if b.level == 1]
    if headings and headings[0][1].level == 1 and len(top_level) == 1:
        title = headings[0][1].name
        headings = headings[1:]
    paths: dict[int, tuple[str, ...]] = {}
    stack: list[tuple[int, str]] = []
    for i, block in headings:
        while stack and stack[-1][0] >= block.level:
            stack.pop()
        stack.append((block.level, block.name))
        paths[i] = tuple(name for _, name in stack)
    return title, paths


def _plain_paths(blocks: list[_Block]) -> tuple[str | None, dict[int, tuple[str, ...]]]:
    heading_at = {i for i, b in enumerate(blocks) if _is_plain_heading(b)}
    for i in heading_at:
        blocks[i].kind = "heading"
        blocks[i].name = _clean_heading(blocks[i].lines[0].text)
    title: str | None = None
    ordered = sorted(heading_at)
    if ordered and ordered[0] + 1 in heading_at and not _PART_HEADING.match(blocks[ordered[0]].name):
        title = blocks[ordered[0]].name
        ordered = ordered[1:]
    paths: dict[int, tuple[str, ...]] = {}
    part: str | None = None
    stack: list[str] = []
    group_depth: int | None = None  # depth at which short sibling sub-headings continue
    group_short = False
    for i in ordered:
        name = blocks[i].name
        follows_heading = (i - 1) in heading_at and bool(stack or part) and (i - 1) in paths
        if _PART_HEADING.match(name):
            part, stack, group_depth = name, [], None
        elif follows_heading:
            if len(stack) >= _MAX_SECTION_DEPTH:
                stack[-1] = name
            else:
                stack.append(name)
            group_depth, group_short = len(stack), _word_count(name) <= _SHORT_HEADING_WORDS
        elif group_depth is not None and group_short and _word_count(name) <= _SHORT_HEADING_WORDS:
            stack = [*stack[: group_depth - 1], name]
        else:
            stack, group_depth = [name], None
        paths[i] = ((part,) if part else ()) + tuple(stack)
    return title, paths


def _strip_symbol_bullet(text: str) -> str:
    return _SYMBOL_BULLET.sub("", text, count=1)


def parse_policy(text: str, *, source: str = "<text>") -> PolicyDocument:
    """Split a policy into sections of quotable passages.

    Args:
        text: the policy, plain text or Markdown. Line endings are normalised to "\\n"; quotes are
            substrings of the normalised text.
        source: where the text came from, for messages.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    blocks, markdown = _blocks(text)
    title, heading_paths = _markdown_paths(blocks) if markdown else _plain_paths(blocks)
    preamble: tuple[str, ...] = (title,) if title else ("Introduction",)

    passages_by_path: dict[tuple[str, ...], list[PolicyPassage]] = {}
    path = preamble
    lead_in: _Block | None = None  # the paragraph ending with ':' that introduces the bullets that follow
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if block.kind == "heading":
            if i in heading_paths:  # the title heading has no path and changes nothing
                path = heading_paths[i]
            lead_in = None
            i += 1
            continue
        if block.kind == "paragraph":
            run_end = i + 1
            while run_end < len(blocks) and blocks[run_end].kind == "bullet":
                run_end += 1
            items = blocks[i + 1 : run_end]
            joined = " ".join(line.text.strip() for line in block.lines)
            introduces_list = bool(items) and joined.rstrip("-").endswith(":")
            if (
                introduces_list
                and len(items) <= _MERGE_LIST_MAX_ITEMS
                and all(len(_WORD.findall(_block_text(text, b))) <= _MERGE_LIST_MAX_ITEM_WORDS for b in items)
            ):
                start, end = block.lines[0].start + block.lines[0].indent, items[-1].lines[-1].end
                passages_by_path.setdefault(path, []).append(
                    PolicyPassage(section=path, text=text[start:end].rstrip(), start=start, end=end)
                )
                lead_in = None
                i = run_end
                continue
            _add_passage(passages_by_path, path, text, block, None)
            lead_in = block if introduces_list else None
            i += 1
            continue
        _add_passage(passages_by_path, path, text, block, _block_text(text, lead_in) if lead_in else None)
        i += 1
    sections = tuple(PolicySection(path=p, passages=tuple(ps)) for p, ps in passages_by_path.items() if ps)
    if not sections:
        raise PolicyLoadError(f"The policy {source} has no text to quote.")
    return PolicyDocument(text=text, title=title, sections=sections, source=source)


def _block_text(text: str, block: _Block) -> str:
    first = block.lines[0]
    return text[first.start + first.indent : block.lines[-1].end].rstrip()


def _add_passage(
    into: dict[tuple[str, ...], list[PolicyPassage]],
    path: tuple[str, ...],
    text: str,
    block: _Block,
    lead_in: str | None,
) -> None:
    first = block.lines[0]
    start = first.start + first.indent
    end = block.lines[-1].end
    body = text[start:end].rstrip()
    if len(block.lines) == 1 and block.kind == "bullet":
        stripped = _strip_symbol_bullet(body)
        start += len(body) - len(stripped)
        body = stripped
    into.setdefault(path, []).append(
        PolicyPassage(section=path, text=body, start=start, end=start + len(body), lead_in=lead_in)
    )


# --- Vocabulary -----------------------------------------------------------------------------------

# Multi-word expressions, rewritten on the lower-cased, word-joined text before tokens are cut.
_PHRASES: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bsocial (media|medias|network|networks|networking)\b", "socialmedia"),
        (r"\b(car|lift|ride) ?shar(e|es|ing)\b", "carpool"),
        (r"\bfriend requests?\b", "friend"),
        (r"\badd(s|ed|ing)? (me|him|her|them|us|you)\b", "friend"),
        # "put it on Facebook", "put a picture of the team on my own Instagram": the verb means "post"
        (r"\b(put|puts|putting|stick|sticks)\b(?=(?: \w+){0,6}? (?:on|onto|online|up)\b)", "post"),
        (r"\b(my|your) own\b", "personal"),
        (r"\bhead ?teachers?\b|\bhead of school\b|\bthe head\b", "headteacher"),
        (r"\bsenior (leaders?|leadership|management)( team)?\b|\bleadership team\b", "slt"),
        (r"\bset(s|ting)? (it |one |them )?up\b|\bstart(s|ing)? up\b", "create"),
        # "start a class Instagram account", "open a new page for year 6": starting an account is creating one
        (
            r"\b(start|starts|starting|open|opens|opening|launch|launches|launching|make|making|begin)\b"
            r"(?=(?: \w+){0,4}? (?:account|accounts|page|pages|channel|channels|profile|profiles|group|groups|blog)\b)",
            "create",
        ),
        (r"\blocal (news)?papers?\b", "media"),
        (r"\b(mobile|cell) phones?\b", "phone"),
        (r"\bcyber ?bull(y|ying|ied|ies)\b", "online bully"),
        (r"\bdo nots?\b|\bdon ts\b", "donts"),
        (r"\btake (it |them |this |that )?down\b", "delete"),
        (r"\b(another|other|a fellow|fellow) (members? of staff|staff members?|teachers?)\b", "colleague"),
        (r"\bold (pupils?|students?)\b", r"ex \1"),
        (r"\b(was|were|used to be) (a |an )?(pupils?|students?)\b", r"ex \3"),
        (r"\bgrown up\b|\bgrown ups\b", "adult"),
        # "say that I work here" is naming the school on a personal account
        (
            r"\b(work|works|working|teach|teaches|teaching) (here|at (the |this |our )?school|for (the |this |our )?"
            r"school)\b|\bwhere (i|you) work\b|\bmy employer\b",
            "name school",
        ),
        (r"\btoo (much|often|long)\b|\ball the time\b|\bexcessive(ly)?\b", "excessive"),
    )
)

# Words that mean the same thing to a member of staff, conflated to one token (on both sides).
_CONCEPTS: Final[dict[str, tuple[str, ...]]] = {
    "friend": tuple("friend follow follower befriend unfriend connect connection".split()),
    "pupil": tuple("pupil student child children kid learner minor youngster".split()),
    "ex": tuple("ex former previous leaver".split()),
    "photo": tuple("photo photograph photography picture pic image selfie video film footage clip".split()),
    "post": tuple("post share upload publish tweet repost retweet".split()),
    "socialmedia": tuple(
        "socialmedia facebook fb instagram insta tiktok twitter whatsapp snapchat "
        "linkedin youtube pinterest reddit discord telegram messenger threads bluesky "
        "mastodon".split()
    ),
    "phone": tuple("phone mobile iphone smartphone android device ipad tablet".split()),
    "parent": tuple("parent carer mum mom mother dad father guardian grandparent".split()),
    "offensive": tuple(
        "offensive rude abusive abuse nasty horrible insult insulting hateful vile "
        "threatening harass harassing harassment troll trolling racist sexist homophobic "
        "unkind".split()
    ),
    "bully": tuple("bully bullying cyberbully cyberbullying".split()),
    "comment": tuple("comment remark reply".split()),
    "complaint": tuple("complaint complain moan grumble grievance criticise criticize criticism".split()),
    "media": tuple("media journalist reporter newspaper press tv radio bbc".split()),
    "enquiry": tuple("enquiry inquiry enquire inquire query".split()),
    "headteacher": tuple("headteacher headmaster headmistress principal ht".split()),
    "slt": tuple("slt smt".split()),
    "account": tuple("account page profile channel handle feed group".split()),
    "create": tuple("create creation".split()),
    "staff": tuple("staff teacher employee ta tas".split()),
    "colleague": tuple("colleague coworker".split()),
    "consent": tuple("consent permission".split()),
    "authorise": tuple("authorise authorize authorisation authorization".split()),
    "approve": tuple("approve approval".split()),
    "delete": tuple("delete remove removal".split()),
    "block": tuple("block ban mute".split()),
    "outing": tuple("outing trip excursion residential".split()),
    "event": tuple("event nativity concert fete performance assembly disco".split()),
    "website": tuple("website webpage".split()),
    "personal": tuple("personal private".split()),
    "confidential": tuple("confidential confidentiality secret".split()),
    "password": tuple("password login credential".split()),
    "holiday": tuple("holiday vacation".split()),
    "logo": tuple("logo branding brand badge crest".split()),
    "extremist": tuple(
        "extremist extremism radical radicalisation radicalization radicalise terrorist terrorism".split()
    ),
    "contact": tuple("contact message dm pm text chat".split()),
    "anonymous": tuple("anonymous anonymously anon".split()),
    "tag": tuple("tag tagging".split()),
    "content": tuple("content material article resource".split()),
    "mistake": tuple("mistake error accident accidentally accidental inadvertently mistakenly unintentionally".split()),
    "compromising": tuple("compromising embarrassing unflattering".split()),
    "dress": tuple("dress dressed clothes clothing swimwear undressed naked".split()),
    "toilet": tuple("toilet bathroom loo lavatory washroom".split()),
    "visitor": tuple("visitor guest".split()),
    "volunteer": tuple("volunteer helper".split()),
    "family": tuple(
        "family relation relative nephew niece cousin son daughter aunt uncle sibling "
        "brother sister grandchild godchild".split()
    ),
    "leave": tuple("leave left quit resign".split()),
    "name": tuple("name naming mention identify associate".split()),
    "breach": tuple("breach break violate violation contravene".split()),
    "praise": tuple("praise positive lovely compliment".split()),
    "investigate": tuple("investigate investigation investigating".split()),
}

_STOPWORDS: Final = frozenset(
    """
    a about above after again against all am an and any anyone anything are aren as at be because been before
    being below between both but by can cannot cant could couldnt did didnt do does doesnt doing dont down
    during each few for from further get gets getting got had hadnt has hasnt have havent having he her here
    hers herself him himself his how i if im in into is isnt it its itself ive just me might mine more most
    must mustnt my myself no nor not now of off on once only or other ought our ours ourselves out over own
    please same shall she should shouldnt so some someone somebody something such than that thats the their
    theirs them themselves then there these they this those through to too under until up upon us very was
    wasnt we were what whats when where which while who whom whose why will with would wouldnt you your yours
    yourself yourselves allowed allow ok okay alright fine need needs want wants wanted know think let also
    really still ever happen happens happened going go goes say says said tell told anybody everyone thing
    things hi hello thanks thank yes one e g eg etc ie else much many
    """.split()
)

_IRREGULAR: Final[dict[str, str]] = {
    "children": "child",
    "people": "person",
    "men": "man",
    "women": "woman",
    "took": "take",
    "taken": "take",
    "taking": "take",
    "wrote": "write",
    "written": "write",
    "kept": "keep",
    "sent": "send",
    "using": "use",
    "used": "use",
    "uses": "use",
    "does": "do",
    "media": "media",
    "news": "news",
    "always": "always",
}
_VOWELS: Final = frozenset("aeiouy")


def _stem(word: str) -> str:
    """A light English stemmer: plurals, -ing, -ed, -ly and a final -e (enough for policy wording)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and any(c in _VOWELS for c in stem):
            if stem.endswith("i"):
                stem = stem[:-1] + "y"  # bullied -> bully
            elif len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]  # tagged -> tag
            word = stem
            break
    if word.endswith("ly") and len(word) > 6:  # "regularly"; not "family", "lovely", "supply"
        word = word[:-2]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


_CANONICAL: Final[dict[str, str]] = {
    _stem(member): concept for concept, members in _CONCEPTS.items() for member in members
}
_VOCABULARY_WORDS: Final = frozenset(m for members in _CONCEPTS.values() for m in members)
_PHOTO_OF_NAME = re.compile(
    r"\b(?:photos?|photographs?|pics?|pictures?|images?|videos?|snaps?|footage|film)\b[^.?!]{0,25}?"
    r"\b(?:of|with|showing|featuring)\s+(?:little\s+)?([A-Z][a-z]{2,})\b"
)
_NOT_NAMES: Final = frozenset(
    "year reception class sports christmas easter september monday tuesday wednesday thursday friday saturday "
    "sunday the our my their his her a an this that these those some all every mr mrs miss ms dr".split()
)
# Misspellings that one edit would turn into the wrong word ("concent" is one edit from "content").
_MISSPELLINGS: Final[dict[str, str]] = {
    "concent": "consent", "consant": "consent", "chek": "check", "fone": "phone", "pix": "pictures",
    "skool": "school", "scool": "school", "sum1": "someone", "b4": "before", "req": "request", "vid": "video",
    "vids": "videos", "hav": "have", "wat": "what", "ur": "your", "u": "you", "pls": "please", "plz": "please",
}
_SITUATION_WEIGHT: Final = 2  # the policy words of a situation count twice: they say what the question means
_NAMED_PUPIL_WORDS: Final = "photos pupils parental consent class register"

_SYNONYM_RUN: Final = 3  # a conflated word repeated within this many tokens counts once
_WORD_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STANDALONE_X = re.compile(r"(?<![\w-])X(?![\w-])")  # "post it on X" (the platform), capital only


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (edits with adjacent transpositions), stopping past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _by_first_letter(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Words of four letters or more, grouped by their first letter (sorted, so repairs are deterministic)."""
    groups: dict[str, list[str]] = {}
    for word in sorted(words):
        if len(word) >= 4:
            groups.setdefault(word[0], []).append(word)
    return {letter: tuple(group) for letter, group in groups.items()}


def _max_typo_edits(word: str) -> int:
    if len(word) < 5:
        return 0  # short words are too easily turned into other words
    return 1 if len(word) < 8 else 2


@dataclass
class _Analyzer:
    """Turns policy text and questions into the same kind of tokens."""

    known_words: Counter[str] = field(default_factory=Counter)  # surface words of the policy, counted
    _known_stems: set[str] = field(default_factory=set)
    _candidates_short: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _candidates_long: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def learn(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.known_words.update(self.words(text))
        self._known_stems = {_stem(w) for w in self.known_words} | set(_CANONICAL)
        # Typo candidates by first letter (a repair keeps the first letter), so a repair looks at a few dozen.
        self._candidates_short = _by_first_letter(_VOCABULARY_WORDS)
        self._candidates_long = _by_first_letter(set(self.known_words) | _VOCABULARY_WORDS | _STOPWORDS)

    def tokens(self, text: str, *, repair_typos: bool = False) -> list[str]:
        words = self.words(text)
        if repair_typos:
            words = [self._repair(w) for w in words]
        return self._tokens_of(" ".join(words))

    def question(self, text: str) -> tuple[list[str], list[str], list[frozenset[str]]]:
        """A question's own tokens (typos repaired), the same with the policy words of the situations it
        describes added, and those situation words, one set per situation."""
        typed = " ".join(self.words(text))
        repaired = " ".join(self._repair(w) for w in typed.split())
        own = self._tokens_of(repaired)
        found = _situation_words(repaired) + ([] if typed == repaired else _situation_words(typed))
        if self.names_a_pupil(text):
            found.append(_NAMED_PUPIL_WORDS)
        groups = [frozenset(self._tokens_of(words)) for words in dict.fromkeys(found)]
        expanded = own + [t for group in groups for t in sorted(group)] * _SITUATION_WEIGHT
        return own, expanded, [g for g in groups if g]

    def _tokens_of(self, joined: str) -> list[str]:
        for pattern, replacement in _PHRASES:
            joined = pattern.sub(replacement, joined)
        result: list[str] = []
        for word in joined.split():
            if word in _STOPWORDS:
                continue
            stem = _stem(word)
            token = _CANONICAL.get(stem, stem)
            if token in result[-_SYNONYM_RUN:] and token != stem:
                # "photos or video recordings", "“follow”, “friend”": a list of synonyms is one mention,
                # not several, once the words are conflated.
                continue
            result.append(token)
        return result

    def names_a_pupil(self, text: str) -> bool:
        """A photo "of Jake" or "with Amira": a capitalised name the policy never uses, after a photo word."""
        for match in _PHOTO_OF_NAME.finditer(text):
            name = match.group(1).lower()
            if name not in self.known_words and name not in _VOCABULARY_WORDS and name not in _NOT_NAMES:
                return True
        return False

    @staticmethod
    def words(text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
        text = _STANDALONE_X.sub(" twitter ", text).lower()
        words: list[str] = []
        for word in _WORD_TOKEN.findall(text):
            if word.endswith("'s"):
                word = "dos" if word == "do's" else word[:-2]
            words.append(word.replace("'", ""))
        return words

    def _repair(self, word: str) -> str:
        """Replace an unknown word by the closest known one (same first letter, one or two edits)."""
        if word in _MISSPELLINGS:
            return _MISSPELLINGS[word]
        if (
            word in _STOPWORDS
            or word in self.known_words
            or word in _VOCABULARY_WORDS
            or _stem(word) in self._known_stems
            or word.isdigit()
        ):
            return word
        limit = _max_typo_edits(word)
        if limit == 0:
            return word
        best: tuple[int, int, int, str] | None = None
        # A five-letter word is one edit from many others ("choir" and "chair"): repair it only into the
        # school vocabulary ("mobil" -> "mobile"), longer ones into any word of the policy too.
        candidates = (self._candidates_short if len(word) < 6 else self._candidates_long).get(word[0], ())
        for candidate in candidates:
            if abs(len(candidate) - len(word)) > limit:
                continue
            distance = _osa_distance(word, candidate, limit)
            if distance > limit:
                continue
            rank = (distance, 0 if candidate in _VOCABULARY_WORDS else 1, -self.known_words[candidate], candidate)
            if best is None or rank < best:
                best = rank
        return best[3] if best else word


# --- Situations -------------------------------------------------------------------------------------
#
# Staff describe what happened ("a boy who left Year 6 last summer sent me a friend request, he's 12");
# the policy states rules in its own words ("any minor who is, or was a pupil at the school"). Each
# situation below recognises a way staff put a case and adds the policy's own words for it to the
# question (never to the policy): the answer is still the passage those words find, quoted verbatim,
# so a school whose policy lacks the words simply gets no match from them. Patterns run on the
# question's lower-cased words after typo repair; `unless` stops a situation that would read the
# question the wrong way round (a parent doing it, not the member of staff).


@dataclass(frozen=True)
class _Situation:
    patterns: tuple[re.Pattern[str], ...]  # all must match
    adds: str  # policy words added to the question
    unless: re.Pattern[str] | None = None


def _situation(adds: str, *patterns: str, unless: str | None = None) -> _Situation:
    return _Situation(tuple(re.compile(p) for p in patterns), adds, re.compile(unless) if unless else None)


_PUPIL_WORDS: Final = (
    r"\b(pupils?|students?|child|children|kids?|boys?|girls?|learners?|year ?\d+s?|y\d|yr ?\d+s?|reception|"
    r"classmates?|my class|the class|tutor group|son|daughter)\b"
)
_PARENT_WORDS: Final = r"\b(parents?|carers?|mums?|dads?|mother|father|guardians?|pta)\b"
_STAFF_WORDS: Final = (
    r"\b(colleagues?|teachers?|tas?|member of staff|members of staff|staff member|someone i work with|"
    r"people i work with|coworkers?|head|deputy|senco|dinner lady|lunchtime supervisor)\b"
)
_SCHOOL_ACCOUNT: Final = (
    r"\b(school|class|our|the|year ?\d+s?|club|pta) (\w+ )?(page|account|twitter|instagram|insta|facebook|fb|tiktok|"
    r"youtube|blog|channel|feed|x)\b"
)
_PHOTO_WORDS: Final = (
    r"\b(photos?|photographs?|pics?|pictures?|pix|images?|videos?|vids?|snaps?|selfies?|film|filmed|filming|footage|"
    r"recording)\b"
)
_FIRST_PERSON_ASKS: Final = r"\b(can|could|may|should) (i|we)\b|\bis it ok\b|\bam i allowed\b|\bi want\b"
_ABUSE_WORDS: Final = (
    r"\b(picked on|picking on|digs?|troll\w*|horrible|nasty|bully\w*|bulied|harass\w*|abus\w*|threat\w*|mean|"
    r"ganging up|slag\w*|badmouth\w*|rude|swore|swearing|racist|lies|insult\w*|make fun)\b"
)

_SITUATIONS: Final[tuple[_Situation, ...]] = (
    # The press: "a bloke from the Gazette phoned", "a journo emailed me for a comment"
    _situation(
        "media enquiry inform slt not respond directly",
        r"\b(journalists?|journos?|reporters?|press|newspapers?|papers?|gazette|bbc|itv|news|radio|tv|magazine|media)\b",
        r"\b(rang|rung|ringing|phoned|called|calling|call|emailed|email|contacted|messaged|dmd|dm|got in touch|"
        r"in touch|wants?|asking|asked|interview|quote|comment|reply|respond|enquiry)\b",
        unless=r"\b(share|retweet|repost) (a |the )?news",
    ),
    # A former pupil, described rather than named
    _situation(
        "ex pupil minor was a pupil",
        r"\b((kid|child|boy|girl|pupil|student|one)s? (i|we) (taught|used to teach|had)|i used to teach|"
        r"(was|were) in my (class|form|group)|old (year|class|tutor|form) ?\w*|left (year|y|yr) ?6|leavers?|"
        r"(class|tutor group|form|group) from last year|(taught|had) last year|now (at|in) (secondary|high school|"
        r"year ?[7-9]|yr ?[7-9])|at secondary|(is|he s|she s|hes|shes|they re) (now )?(1[0-7]|[5-9])\b|"
        r"(1[0-7]|[5-9]) ?(year old|yo|years old))",
    ),
    _situation("friend", r"\b(follow|follows|followed|following|add|adding|added|friend|friends)\b"
               r" (me|back|him|her|them|each other)\b|\bfollow request|\bfriends? with\b|\bbe (my )?friends?\b"),
    # Messaging pupils
    _situation(
        "contact communicate pupil",
        r"\b(dm|dms|dmd|message|messages|messaged|messaging|text|texting|whatsapp|chat|snapchat|reply|answer)\b",
        _PUPIL_WORDS + r"|\bex pupil\b",
        unless=r"\b(messages? (from|by) (other|others|kids|children|pupils))\b|\bbull|horrible|nasty|threat|parent|"
        r"ganging|picked on|mean\b",
    ),
    # Disclaimer on a personal account
    _situation(
        "disclaimer personal account naming school",
        r"\b(bio|profile|says where i work|where i work|views are my own|my (own )?views|opinions?|employer|"
        r"mention\w* (the school|holy trinity|where i work|work)|name school|holy trinity|i teach at|"
        r"disclaimer|disclamer)\b",
        r"\b(my|personal|own|private)\b",
        unless=r"\b(logo|badge|crest|branding)\b",
    ),
    # Using social media too much at work
    _situation(
        "excessive use interfering duties disciplinary",
        r"\b(a lot|lots|always on|all day|constantly|instead of (working|teaching|work)|too much|for hours|"
        r"all the time|disciplined)\b",
    ),
    _situation(
        "reasonable appropriate access private social media sites",
        r"\b(lunch ?break|break ?time|my break|on break|staff ?room|scroll\w*|free period|ppa|in school|at work)\b",
        r"\b(i|my|me)\b",
        r"\b(scroll\w*|instagram|insta|facebook|fb|tiktok|twitter|social media|socialmedia|whatsapp|snapchat)\b",
        unless=_PUPIL_WORDS + r"|\b(photo|pic|picture|post|posting|being|disciplin|trouble|lot|always)\b",
    ),
    # Abuse from a colleague
    _situation("abuse colleague social networking head teacher", _STAFF_WORDS, _ABUSE_WORDS,
               r"\b(me|i|i m|im|my|ta|colleague)\b",
               unless=_PARENT_WORDS + r"|" + _PUPIL_WORDS + r"|\bsomeone(?! i work)|\bsomebody\b|\bcommunity\b|"
               r"\breview\b|\bmums group\b"),
    _situation("member family relation guardianship",
               r"\b(niece|nephew|son|daughter|godchild|godson|goddaughter|grandchild|grandson|granddaughter|cousin|"
               r"my own (child|kid)|related to)\b",
               r"\b(friends?|follow\w*|add|contact|message)\b"),
    _situation("parent carer offensive comments remove post refer head teacher",
               _PARENT_WORDS, _ABUSE_WORDS + r"|\b(abusive|about me|about a teacher)\b",
               unless=_PHOTO_WORDS + r"|\b(bullied|being sent)\b"),
    _situation("parents carers complaints official school channels",
               _PARENT_WORDS,
               r"\b(moan\w*|complain\w*|whing\w*|grumbl\w*|criticis\w*|instead of (coming in|talking|using|asking)|"
               r"proper way)\b"),
    _situation("check senior leader publishing controversial implications",
               r"\b(political|politics|controversial|sensitive|religio\w*|brexit|strikes?|election|vote)\b"),
    # Pupils bullying pupils
    _situation(
        "online bullying pupil bullied take action",
        _PUPIL_WORDS,
        r"\b(picked on|ganging up|horrible messages|nasty messages|mean|threats?|threatening|bullied|bulied|"
        r"bullying|left out|excluded|being sent|getting)\b",
        unless=r"\bparent (says|said|told)\b(?!.*\b(son|daughter|child)\b)",
    ),
    _situation(
        "pupil malicious fictitious comments behaviour policy",
        r"\b(pupils?|child|kid|year ?\d+|y\d|one of my pupils|student)\b",
        r"\b(posted|wrote|written|made|make fun|fake account|mean comment|lies|spreading)\b",
        unless=_PARENT_WORDS + r"|\b(photo|pic|picture|video)\b",
    ),
    # Criticising the school, as staff
    _situation(
        "damage school reputation criticise grievances",
        r"\b(rant\w*|moan\w*|complain\w*|slag\w*|badmouth\w*|disagree\w*|dispute|whinge|vent|criticis\w*|"
        r"grievances?|negative about)\b",
        _FIRST_PERSON_ASKS + r"|\bi m in\b|\bim in\b",
        unless=_PARENT_WORDS,
    ),
    # Confidential information
    _situation(
        "disclose personal information confidential",
        r"\b(ofsted|safeguarding|details|family situation|announced|secret|gossip|inspection|diagnosis|"
        r"sen|private information|personal information|confidential|about a (pupil|child)|behaviour)\b",
        r"\b(post|posting|share|sharing|tell|telling|story|whatsapp|facebook|friends)\b",
        unless=r"\b(staff member|colleague|member of staff) (shares|shared|posted|posts)\b",
    ),
    # Other people's material
    _situation(
        "copyright permission share other peoples materials",
        r"\b(songs?|music|track|found on google|from google|google images|someone else s|another school s|"
        r"other schools|retweet|repost|article|meme|clip from|film clip|artwork)\b",
    ),
    _situation(
        "school account personal gain",
        r"\b(advertise|advertising|promote|promoting|sell|selling|my (own )?business|tutoring|etsy|shop|side hustle)\b",
        unless=r"\b(promote the school|advertise the school|website)\b",
    ),
    # New accounts
    _situation(
        "create new account business case head teacher",
        r"\b(get|getting|want|like|have|start|starting|set ?up|setup|setting|open|make|new)\b",
        r"\b(a|an|new|our|own) (new )?(class|school|pta|club|year ?\d+s?|garden club)? ?(\w+ )?"
        r"(twitter|instagram|insta|facebook page|fb page|facebook|tiktok|youtube channel|youtube|blog|account|page|"
        r"channel)\b",
        r"\b(how|process|before|get|getting|want|like|we d|wed|can i|can we|need to)\b",
        unless=r"\b(personal|my own|private|photo|pic|picture|comment|post about|password|login|left|leaving|"
        r"on my own|more than one|reporter|journalist|approve|sign|decides|who gives)\b",
    ),
    _situation(
        "two staff members run account",
        r"\b(on my own|by myself|alone|single|one admin|more than one|how many (people|staff|adults|admins)|just me)\b"
        r"(?! (account|page|insta\w*|facebook|fb|twitter|tiktok|phone|profile))",
    ),
    _situation(
        "approved head teacher slt approval account creation",
        r"\b(signs? off|sign off|gives? the ok|say yes|decides?|green light|approves?|approved|approval|accepted|"
        r"permission|who do i ask|authoris\w*)\b",
        r"\b(account|page|twitter|instagram|insta|facebook|tiktok|youtube|channel|blog|proposal)\b",
        unless=_PHOTO_WORDS,
    ),
    _situation(
        "not directly employed volunteers parents running account",
        r"\b(parents?|pta|student teacher|placement|volunteers?|governors?|trainee|chair)\b",
        r"\b(run|running|help run|post on|posting on|admin|manage|managing)\b",
        r"\b(school|class) (\w+ )?(page|account|facebook|instagram|twitter|fb|insta)\b|\bschool facebook\b",
    ),
    _situation(
        "monitored regularly frequently holidays",
        r"\b(how often|checks?|checked|checking|keep an eye|over christmas|over easter|holidays?|hols|summer|"
        r"half term|weekends?)\b",
        _SCHOOL_ACCOUNT,
        unless=r"\b(personal|my own|photo|pic|picture|consent|check with|what i ve posted|what ive posted)\b",
    ),
    _situation(
        "queries complaints school office",
        _PARENT_WORDS,
        r"\b(questions?|asking|ask|enquiry|query|queries|dinner money|messaged|dm|message)\b",
        _SCHOOL_ACCOUNT + r"|\bclass page\b",
    ),
    # Photos
    _situation(
        "asks not filmed photographed wishes respected",
        r"\b(don t want|dont want|doesn t want|doesnt want|hates?|refuses?|not be in|not to be|not be|asked not|"
        r"leave (him|her|them) out|shy)\b",
        _PHOTO_WORDS + r"|\b(photographed|picture taken)\b",
    ),
    _situation(
        "inadvertently compromising picture delete immediately",
        r"\b(skirt|ridden up|changing|getting changed|undress\w*|misread|misconstrued|look bad|looks bad|"
        r"embarrassing|compromising|by mistake|accidentally|oops)\b",
        _PHOTO_WORDS + r"|\btook\b",
        unless=r"\b(wrong photo|posted)\b",
    ),
    _situation(
        "appropriately dressed ridicule professional judgement",
        r"\b(swimsuits?|swimming|swimwear|silly face|funny|pyjamas|costume|fancy dress|ok to share|decide if|"
        r"appropriate)\b",
        _PHOTO_WORDS,
    ),
    _situation(
        "upload student pictures online school owned accounts",
        r"\b(my own|my personal|personal|private|my)\b ?(\w+ )?(insta|instagram|fb|facebook|account|story|status|"
        r"twitter|tiktok|page)\b",
        _PHOTO_WORDS,
        unless=r"\b(phone|mobile|iphone|fone|camera|ipad)\b",
    ),
    _situation(
        "personal phones head teacher authorised own mobile phones images",
        r"\b(my|own|personal)\b (\w+ )?(phone|mobile|iphone|fone|android|smartphone)\b",
        _PHOTO_WORDS + r"|\b(photograph|snap|take)\b",
    ),
    _situation(
        "parents post photographs video other pupils events",
        _PARENT_WORDS,
        r"\b(post\w*|upload\w*|put|film\w*|video\w*|photos?|pics?|vid)\b",
        r"\b(other (kids|children|pupils)|all the kids|loads of other|nativity|sports day|school play|disco|"
        r"christmas|concert|show)\b",
    ),
    _situation(
        "events recorded video photographs full view",
        r"\b(parents|mums|dads|families|grandparents)\b",
        r"\b(film|video|photos?|record|pictures|take photos)\b",
        r"\b(sports day|carol|nativity|play|concert|assembly|show|fete|performance|service)\b",
        unless=r"\b(other (kids|children)|posted|uploaded|post)\b",
    ),
    _situation(
        "website specific parental permission",
        r"\b(website|prospectus|advertise the school|promote the school)\b",
        _PHOTO_WORDS,
    ),
    _situation(
        "september data collection permissions forms",
        r"\b(when|where|how)\b",
        r"\b(permission|consent)\b",
        r"\b(collected|given|give|forms?|asked|sought|collect)\b",
    ),
    _situation(
        "visitors phones outside building challenged photographing children",
        r"\b(visitors?|strangers?|man|woman|someone|person|bloke)\b",
        r"\b(photographing|taking photos|taking pictures|filming|camera|phones?)\b",
        unless=r"\b(my|personal|parent)\b",
    ),
    _situation("school cameras kept securely authority", r"\b(school cameras?|camera home|the camera)\b"),
    _situation(
        "terrorist extremist material prevent",
        r"\b(extremist|extremism|terrorist|terrorism|radical\w*|isis|far right|beheading|bombs?)\b",
    ),
    _situation(
        "privacy settings personal information private",
        r"\b(lock|locked|private|stop parents seeing|hide|privacy|who can see)\b",
        r"\b(my|personal|own)\b",
        unless=_PHOTO_WORDS + r"|\b(account is|personal account with nothing)\b",
    ),
    _situation(
        "store account details passwords securely",
        r"\b(login|log in|password|passwords|details)\b",
        r"\b(share|give|tell|kept|keep|store|where)\b",
        unless=r"\b(pupil|child|family)\b",
    ),
    _situation(
        "lead staff member left account closing transferring",
        r"\b(i m leaving|im leaving|i am leaving|i m moving on|when i leave|has left|have left|had left|is leaving|"
        r"are leaving|retir\w*|moved on|moving on)\b"
        r"|\b(teacher|staff|colleague|lead|who ran|who runs)\b[^.?!]{0,40}\bleft\b",
        r"\b(account|twitter|page|instagram|insta|facebook|fb|tiktok|blog|channel|run|ran)\b",
        unless=r"\b(confidential\w*|talk about|comments?)\b",
    ),
    _situation(
        "slt investigating reported incidents initial assessment",
        r"\b(deals? with|looks? into|investigat\w*|what happens after|once)\b",
        r"\b(incidents?|reported)\b",
    ),
    _situation(
        "anonymous make clear who posting",
        r"\b(without saying who|who s posting|whos posting|who is posting|anonymous\w*|initials|who i am)\b",
    ),
    _situation(
        "confidentiality maintained after leave employment",
        r"\b(once i leave|after i leave|after i ve left|after ive left|when i leave|left the job|left the school|"
        r"after leaving)\b",
    ),
    _situation(
        "posted any time anywhere",
        r"\b(weekends?|holiday|at night|evenings?|from home|outside school|out of hours|off duty|after school)\b",
        r"\b(post|posts|posted|policy|cover|covers|count|apply)\b",
        unless=r"\b(school (\w+ )?(account|twitter|instagram|facebook|page)|check\w*|holiday photos)\b",
    ),
    _situation(
        "applies volunteers contractors agency workers",
        r"\b(supply|contractors?|agency|volunteers?|casual|consultants?|student teachers?|governors?)\b",
        r"\b(policy|covered|apply|applies|follow (this|the) policy)\b",
    ),
    _situation(
        "report mistakes reporting process",
        r"\b(wrong photo|by mistake|made a mistake|mistakes?|typo|error|wrong)\b",
        r"\b(post|posted|tweet|tweeted|school)\b",
    ),
    _situation(
        "unacceptable conduct reported head teacher",
        _STAFF_WORDS,
        r"\b(posted|shares|post|shared|posting|sharing)\b",
        r"\b(discriminatory|confidential|racist|offensive|inappropriate|data|homophobic|sexist)\b",
    ),
    _situation(
        "breaches appropriate action disciplinary",
        r"\b(break the|breaking the|breach\w*|get in trouble|disciplined|sacked|fired|consequences)\b",
    ),
    _situation("illegal police", r"\b(illegal|crime|criminal|police|unlawful)\b"),
    _situation(
        "defame disparage third parties",
        r"\b(name and shame|call out|calling out|expose|exposing|negative about another)\b",
    ),
    _situation(
        "impersonate staff pupils",
        r"\b(pretend\w*|pose as|posing as|catfish\w*|impersonat\w*)\b",
    ),
    _situation(
        "doubt second opinion responding comments",
        r"\b(not sure how|tricky|how to respond|how to reply|unsure|in doubt|difficult)\b",
        r"\b(comments?|reply|respond|message)\b",
    ),
    _situation(
        "personal communications not refer impact school outside scope",
        r"\b(nothing (about|to do with) (the )?school|not about (the )?school|holiday photos|my own life|"
        r"private life|nothing about school)\b",
    ),
    _situation(
        "evidence achievements development records",
        r"\b(learning journals?|evidence|records?|portfolio|tapestry|development|work)\b",
        r"\b(photos?|photographs?|pics?|pictures?)\b",
        unless=r"\b(my own|personal|own records)\b",
    ),
    _situation(
        "school learning platform acceptable use",
        r"\b(seesaw|class dojo|dojo|google classroom|learning platform|microsoft teams)\b",
    ),
    _situation(
        "regularly monitoring updating managing content posted school accounts",
        r"\b(what i ve posted|what ive posted|my posts|my old posts|i have posted|i posted)\b",
        _SCHOOL_ACCOUNT,
        unless=r"\b(wrong|mistake)\b",
    ),
    _situation(
        "staff work monitored",
        r"\b(check|monitor|monitored|watch|see|track)\b",
        r"\b(what i do|my activity|what i post|my use)\b",
    ),
    _situation(
        "broad term online platform social media elements",
        r"\b(counts? as|count|is \w+ social media|what is social media|what counts|classed as|social media\?)\b",
        unless=_PHOTO_WORDS,
    ),
    _situation(
        "respond comments",
        r"\b(reply to every|respond to|answer every|reply to all|replying to)\b",
        r"\bcomments?\b",
    ),
    _situation(
        "teach children safe internet etiquette curriculum",
        r"\b(teach|teaching|lessons?|curriculum)\b",
        r"\b(safe|safety|staying safe|e safety|online safety|etiquette)\b",
    ),
    _situation(
        "internet blocking filtering harmful sites",
        r"\b(blocked|filter|filtering|harmful sites|firewall)\b",
        r"\b(sites?|websites?|internet|online|school)\b",
        unless=r"\b(someone|user|person|parent)\b",
    ),
    _situation(
        "tone engaging conversational informative audience professional",
        r"\b(how formal|formal|chatty|emojis?|style|casual|jokey|voice|tone|friendly)\b",
    ),
    _situation(
        "communicate learners school social media account teaching learning",
        r"\b(talk to|interact with|chat with|communicate with|speak to|engage with)\b",
        _PUPIL_WORDS,
        _SCHOOL_ACCOUNT + r"|\bschool instagram\b",
    ),
    _situation(
        "children images not published list",
        r"\b(can t have their photos|cant have their photos|no photos?|not allowed (photos|pictures)|"
        r"do not publish|dnp|can t be published|cant be published)\b",
    ),
    _situation(
        "pupils access social network sites supervised class teacher",
        _PUPIL_WORDS,
        r"\b(go on|use|play|allowed on|access|on)\b",
        r"\b(youtube|minecraft|tiktok|roblox|social media|instagram|snapchat|games?|in class|in school|wet play|"
        r"lunchtime)\b",
        unless=r"\b(i|my|me)\b.*\b(photo|pic|follow|friend|message|dm)\b|\b(bull\w*|nasty|mean|picked|posted|"
        r"horrible|messages|ganging|threat\w*|fake)\b",
    ),
    _situation(
        "pupils follow teacher ex teacher",
        r"\b(pupils?|students?|children|kids)\b",
        r"\b(allowed to|follow\w*)\b",
        r"\b(follow\w*|staff|teachers?|me)\b",
        unless=r"\b(former|ex|old|last year|used to)\b",
    ),
    _situation(
        "report damaging negative comment school senior leadership",
        r"\b(slag\w*|badmouth\w*|nasty review|bad review|negative|saying bad things|criticis\w*|reviews?|"
        r"mums group|community (facebook )?page)\b",
        unless=_FIRST_PERSON_ASKS + r"(?! (pass|report|tell))",
    ),
    _situation(
        "praise positive comment welcome",
        r"\b(lovely|nice|thank you|thanks|positive|kind|praise|compliments?|great)\b",
        r"\b(post|posts|comments?|wrote|review|message)\b",
    ),
    # A photo of a named pupil: the consent rule (and the photo check)
    _situation(
        "photos pupils parental consent class register",
        r"\b(photos?|pics?|pictures?|images?|videos?)\b (of|with) (\w+ )?(from|in) (year|class|reception|y\d)\b"
        r"|\bnamed (pupils?|children|child|kids)\b|\bconsent\b|\bconcent\b|\bsaid yes to photos\b"
        r"|\bagree before\b",
    ),
)


def _situation_words(text: str) -> list[str]:
    """The policy words of each situation a question describes (text: its lower-cased words, spaced)."""
    return [
        situation.adds
        for situation in _SITUATIONS
        if all(p.search(text) for p in situation.patterns)
        and not (situation.unless is not None and situation.unless.search(text))
    ]


# --- What to do ---------------------------------------------------------------------------------
#
# Each line restates, in plain words, what a passage or section of the policy says. A line is used only
# while the policy still contains the words it restates (its evidence), so a school that changes its
# policy never gets a line the new text does not support; it gets a directive sentence of the quoted
# passage instead, verbatim.


@dataclass(frozen=True)
class _PassageGuidance:
    """A line for any quoted passage that contains all of `evidence` (case-insensitive)."""

    evidence: tuple[str, ...]
    line: str


@dataclass(frozen=True)
class _SectionGuidance:
    """A line for a section whose path ends with `headings` and whose text contains all of `evidence`."""

    headings: tuple[str, ...]
    evidence: tuple[str, ...]
    line: str


_PASSAGE_GUIDANCE: Final[tuple[_PassageGuidance, ...]] = (
    _PassageGuidance(
        ("friend", "was a pupil", "family"),
        "Don't knowingly follow, friend or engage on social media with a child who is or was a pupil here, "
        "unless they are family or you follow them as their parent or guardian.",
    ),
    _PassageGuidance(
        ("contact", "ex-pupils"),
        "Don't use social media to contact or communicate with current or former pupils.",
    ),
    _PassageGuidance(
        ("personal account", "disclaimer"),
        "If your personal account is associated with the school or affects it, use a disclaimer to make "
        "clear you are not speaking for the school.",
    ),
    _PassageGuidance(
        ("disclaimer", "naming the school"),
        "If a personal account names the school, add a disclaimer to it.",
    ),
    _PassageGuidance(
        ("disclose", "confidential"),
        "Don't share personal information about anyone in the school community, or anything confidential "
        "to the school.",
    ),
    _PassageGuidance(
        ("defame", "disparage"),
        "Don't use social media to defame or disparage the school, its staff, pupils or anyone else, or to "
        "harass, bully or unlawfully discriminate.",
    ),
    _PassageGuidance(
        ("excessive", "disciplinary"),
        "Excessive use of social media at work that interferes with your duties may lead to disciplinary action.",
    ),
    _PassageGuidance(
        ("media enquiry", "slt"),
        "Don't answer a media enquiry yourself: tell SLT.",
    ),
    _PassageGuidance(
        ("unacceptable conduct", "head teacher"),
        "Report unacceptable content (defamatory, discriminatory, offensive, harassing, or a data, "
        "confidentiality or copyright breach) to the Head Teacher as soon as possible.",
    ),
    _PassageGuidance(
        ("personal gain", "confidentiality"),
        "Keep school accounts professional and respectful and never use them for personal gain; keep school "
        "matters confidential, even after you leave.",
    ),
    _PassageGuidance(
        ("class name", "anonymous"),
        "Make clear who is posting (for example your class name): anonymous posts about school activity are "
        "discouraged.",
    ),
    _PassageGuidance(
        ("offensive comments", "refer these to the head teacher"),
        "Refer offensive comments to the Head Teacher and handle them swiftly and sensitively.",
    ),
    _PassageGuidance(
        ("block", "delete", "audience"),
        "Block, report or delete the user or comment, and tell the audience why you did.",
    ),
    _PassageGuidance(
        ("abuse by colleagues", "head teacher"),
        "Report abuse by colleagues on social media to the Head Teacher, using the school's agreed protocols.",
    ),
    _PassageGuidance(
        ("consent", "photographed"),
        "Before posting a photo of a pupil, check the parental consent in the class register; if anyone asks "
        "not to be photographed or filmed, respect it.",
    ),
    _PassageGuidance(
        ("personal phones", "head teacher"),
        "Share pupils' pictures online only through school-owned accounts; don't use a personal phone unless "
        "the Head Teacher has authorised it in exceptional circumstances.",
    ),
    _PassageGuidance(
        ("appropriately dressed", "ridicule"),
        "Share an image only if the pupils are appropriately dressed, nobody is ridiculed and no child in it "
        "is on the school's do-not-publish list.",
    ),
    _PassageGuidance(
        ("compromising", "delete"),
        "If you take a compromising picture by accident, delete it immediately.",
    ),
    _PassageGuidance(
        ("own mobile phones", "school day"),
        "Staff, visitors and volunteers may not use their own mobile phones to take or record images of the "
        "children for their own records during the school day.",
    ),
    _PassageGuidance(
        ("specific parental permission", "website"),
        "Photos of pupils on the school website need specific parental permission.",
    ),
    _PassageGuidance(
        ("toilet",),
        "Cameras and mobile phones must not be used in toilet areas.",
    ),
    _PassageGuidance(
        ("business case", "two staff"),
        "Send the Head Teacher a business case: the aim, the audience, how it will be promoted, who will run "
        "it (at least two staff), and whether it will be open or private.",
    ),
    _PassageGuidance(
        ("approved by the head teacher",),
        "Every school social media account must be approved by the Head Teacher before any educational work "
        "with it starts.",
    ),
    _PassageGuidance(
        ("account creation",),
        "SLT approve the creation of school social media accounts.",
    ),
    _PassageGuidance(
        ("passwords", "securely"),
        "The account's administrators store its login details, including passwords, securely.",
    ),
    _PassageGuidance(
        ("has left", "account"),
        "When the lead staff member leaves, the administrators close the account or hand it over.",
    ),
    _PassageGuidance(
        ("investigating", "incidents"),
        "SLT take the lead in investigating reported incidents.",
    ),
    _PassageGuidance(
        ("holidays", "monitored"),
        "School accounts must be monitored regularly and often, holidays included; queries and complaints "
        "go through the school office.",
    ),
    _PassageGuidance(
        ("negative comment", "senior leadership"),
        "Report damaging or negative comments about the school or anyone in its community to a member of "
        "SLT; praise is welcome too.",
    ),
    _PassageGuidance(
        ("extremist material",),
        "Make sure children are safe from terrorist and extremist material when they use the internet in school.",
    ),
    _PassageGuidance(
        ("copyright", "permission"),
        "Where necessary, get the copyright holder's permission before sharing their content.",
    ),
)

_SECTION_GUIDANCE: Final[tuple[_SectionGuidance, ...]] = (
    _SectionGuidance(
        ("handling abuse",),
        ("head teacher", "block", "delete"),
        "Refer offensive comments to the Head Teacher; block, report or delete where needed and tell the audience why.",
    ),
    _SectionGuidance(
        ("use of images",),
        ("consent", "head teacher"),
        "Check parental consent before posting a pupil's photo, post only on school accounts, and use a "
        "personal phone only in exceptional circumstances with the Head Teacher's authorisation.",
    ),
    _SectionGuidance(
        ("process for creating new accounts",),
        ("business case", "head teacher"),
        "Propose a new school account to the Head Teacher with a business case.",
    ),
    _SectionGuidance(
        ("monitoring posts about the school",),
        ("negative comment", "senior leadership"),
        "Report damaging or negative comments about the school to a member of SLT; praise is welcome too.",
    ),
    _SectionGuidance(
        ("dealing with incidents of online bullying",),
        ("online bullied",),
        "Take action if a pupil is being bullied online or is bullying someone else.",
    ),
    _SectionGuidance(
        ("tone",),
        ("engaging", "conversational", "informative"),
        "Write for your audience and keep it professional: engaging, conversational and informative.",
    ),
    _SectionGuidance(
        ("scope",),
        ("any time", "anywhere"),
        "The policy covers anything that represents or affects the school, posted at any time and from anywhere.",
    ),
    _SectionGuidance(
        ("personal use", "pupil/students"),
        ("supervised", "behaviour policy"),
        "Pupils use social networks in school only under a class teacher's supervision; their offensive "
        "comments are dealt with under the behaviour policy.",
    ),
    _SectionGuidance(
        ("personal use", "parents/carers"),
        ("remove the post", "complaints"),
        "If a parent or carer posts something offensive, the school asks them to remove it and talk it "
        "through; complaints go through the school's official channels.",
    ),
)

_DIRECTIVE = re.compile(
    r"\b(must|should|shall|do not|don't|never|always|only|are not to|is not to|not permitted|prohibited|"
    r"refer|report|inform|ensure|check|delete|seek)\b",
    re.I,
)


def _normalise_heading(name: str) -> str:
    return " ".join(name.casefold().split())


def _what_to_do(section: PolicySection, top: PolicyPassage) -> tuple[str, Literal["summary", "quote", "generic"]]:
    passage_text = " ".join(top.text.casefold().split())
    for guidance in _PASSAGE_GUIDANCE:
        if all(e in passage_text for e in guidance.evidence):
            return guidance.line, "summary"
    path = tuple(_normalise_heading(p) for p in section.path)
    section_text = " ".join(" ".join(p.text for p in section.passages).casefold().split())
    for section_guidance in _SECTION_GUIDANCE:
        n = len(section_guidance.headings)
        if path[-n:] == section_guidance.headings and all(e in section_text for e in section_guidance.evidence):
            return section_guidance.line, "summary"
    for sentence in _SENTENCE_END.split(top.text):
        if _DIRECTIVE.search(sentence):
            return sentence.strip(), "quote"
    return GENERIC_WHAT_TO_DO, "generic"


# --- Flows ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FlowRule:
    flow: SuggestedFlow
    question_any: frozenset[str]  # the question must mention one of these ...
    question_also: frozenset[str]  # ... and one of these (empty: no second condition)
    passage_any: frozenset[str]  # and the quoted policy one of these


def _concepts(words: str) -> frozenset[str]:
    analyzer = _Analyzer()
    return frozenset(analyzer.tokens(words))


_FLOW_RULES: Final[tuple[_FlowRule, ...]] = (
    _FlowRule(
        SuggestedFlow.REPORT_INCIDENT,
        _concepts("offensive bullying incident extremist media malicious damaging negative"),
        frozenset(),
        _concepts("offensive bullying incident extremist media report refer inform malicious negative"),
    ),
    _FlowRule(
        SuggestedFlow.CHECK_PHOTO,
        _concepts("photo"),
        frozenset(),
        _concepts("photo consent"),
    ),
    _FlowRule(
        SuggestedFlow.PROPOSE_ACCOUNT,
        _concepts("create new business"),
        _concepts("account socialmedia"),
        _concepts("create approve business"),
    ),
)


# --- The index ------------------------------------------------------------------------------------

_BIGRAM_JOIN: Final = "_"
_FIRST_PERSON: Final = frozenset({"i", "me", "my", "mine", "myself", "im", "ive", "id", "we", "our", "ours"})
_OTHER_AUDIENCE: Final = frozenset({"pupil", "parent"})


def _bigrams(tokens: Sequence[str]) -> list[str]:
    """Each adjacent pair of tokens ("ex_pupil"), so that words used together count for more."""
    return [f"{a}{_BIGRAM_JOIN}{b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def _asked_in_first_person(question: str) -> bool:
    return any(w in _FIRST_PERSON for w in _Analyzer.words(question[:_MAX_QUESTION_CHARS]))


def _addressed_to_others(path_tokens: Sequence[str]) -> bool:
    """A section headed for pupils or parents ("Personal use › Pupil/Students") rather than staff."""
    return bool(_OTHER_AUDIENCE & set(path_tokens)) and "staff" not in path_tokens


# "Can pupils ...", "are parents allowed to ...": the question is about what pupils or parents may do, so
# the rules written for them answer it. Anything else comes from a member of staff about their own conduct.
_ASKS_ABOUT: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("pupil", re.compile(
        r"\b(are|can|could|may|should|must|do|does|is it ok for|are we letting|let) (the |our |my )?"
        r"(pupils?|students?|children|kids|child|year ?\d+s?)\b(?! (i|we) )|\bpupils (even )?allowed\b"
        r"|^(a|the|one of my|one of our|my) (pupil|student|child|kid|year ?\d+) (posted|wrote|made|put|shared)\b"
    )),
    ("parent", re.compile(
        r"\b(are|can|could|may|should|must|do|does|is it ok for) (the |our )?(parents?|carers?|mums?|dads?|"
        r"mums and dads|families)\b"
        r"|^(a|the|one|my|our) (parent|carer|mum|dad|mother|father)s? (is|are|has|have|keeps?|wrote|posted|put|"
        r"uploaded|shared|left)\b"
    )),
)


def _asked_about(question: str) -> str | None:
    """"pupil" or "parent" when the question asks what they may do; None for a staff member's own conduct."""
    lowered = " ".join(_Analyzer.words(question[:_MAX_QUESTION_CHARS]))
    for audience, pattern in _ASKS_ABOUT:
        if pattern.search(lowered):
            return audience
    return None


# The policy's subject: a question with none of these words (and no situation the policy covers) is not
# about social media, photos or accounts, and gets "the policy doesn't say" however many of its other
# words the policy happens to use ("can I bring my dog into school": "bring" is in "bring damage").
_SUBJECT_TOKENS: Final = frozenset(
    "socialmedia post photo account online internet comment friend contact media tag phone camera website blog "
    "password disclaimer consent copyright gdpr bully extremist prevent logo privacy incident confidential "
    "offensive email digital web app login disclos profile network tone follower anonymous terrorist "
    "radicalisation filter safeguard publish tweet upload audience dos donts moderator administrator".split()
)
_SITUATION_MIN_SHARE: Final = 0.5  # a situation answers when the best passage holds this share of its words
# A second passage is quoted only when it scores half the best one, a third three quarters of it ...
_EXTRA_QUOTE_RATIO: Final = (0.5, 0.75)
_EXTRA_QUOTE_GAIN: Final = 0.12  # ... and adds this share of the question's information not yet quoted
_MAX_QUOTES: Final = 3
_NOTE: Final = re.compile(r"^\W*(n\.?\s?b\.?|note|please note|important)\b\W", re.I)
_NOTE_MIN_SHARED_TERMS: Final = 2


class PolicyIndex:
    """The school's policy, indexed for questions. Build once at start-up; answering is read-only."""

    def __init__(self, document: PolicyDocument, *, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> None:
        self.document = document
        self.min_confidence = min_confidence
        self._analyzer = _Analyzer()
        self._analyzer.learn([document.text] + [" ".join(s.path) for s in document.sections])
        self._sections = {s.path: s for s in document.sections}
        passages: list[PolicyPassage] = []
        token_lists: list[list[str]] = []
        pair_lists: list[list[str]] = []
        seen: dict[str, int] = {}
        for section in document.sections:
            path_tokens = self._analyzer.tokens(" ".join(section.path))
            for passage in section.passages:
                own_tokens = self._analyzer.tokens(passage.text)
                if len(own_tokens) < _MIN_PASSAGE_TOKENS:
                    continue
                segments = [own_tokens, path_tokens]
                if passage.lead_in:
                    segments.append(self._analyzer.tokens(passage.lead_in))
                tokens = [t for segment in segments for t in segment]
                pairs = _bigrams(own_tokens) + (_bigrams(segments[2]) if passage.lead_in else [])
                key = " ".join(passage.text.split())
                if key in seen:
                    # The same words in two sections: answer from the more specific (deeper) one.
                    earlier = seen[key]
                    if len(passage.section) > len(passages[earlier].section):
                        passages[earlier], token_lists[earlier], pair_lists[earlier] = passage, tokens, pairs
                    continue
                seen[key] = len(passages)
                passages.append(passage)
                token_lists.append(tokens)
                pair_lists.append(pairs)
        if not passages:
            raise PolicyLoadError(f"The policy {document.source} has no passage long enough to quote.")
        self._passages = passages
        self._passage_terms = [frozenset(tokens) for tokens in token_lists]
        self._notes: dict[tuple[str, ...], tuple[int, ...]] = {}
        for i, passage in enumerate(passages):
            if _NOTE.match(passage.text):
                self._notes[passage.section] = (*self._notes.get(passage.section, ()), i)
        self._addressed_to_others = np.array(
            [_addressed_to_others(self._analyzer.tokens(" ".join(p.section))) for p in passages]
        )
        self._addressed_to: dict[str, np.ndarray] = {
            audience: np.array(
                [audience in self._analyzer.tokens(" ".join(p.section)) and self._addressed_to_others[i]
                 for i, p in enumerate(passages)]
            )
            for audience in _OTHER_AUDIENCE
        }
        self._bm25 = bm25s.BM25(method="lucene", k1=_BM25_K1, b=_BM25_B)
        self._bm25.index(token_lists, show_progress=False)
        # Word pairs ("ex_pupil") in a second index, added with a small weight: they separate "former
        # pupil" from "ex-teacher" without letting common pairs ("school_account") dominate.
        self._bm25_pairs = bm25s.BM25(method="lucene", k1=_BM25_K1, b=_BM25_B)
        self._bm25_pairs.index([p or [""] for p in pair_lists], show_progress=False)
        document_frequency: Counter[str] = Counter()
        for terms in self._passage_terms:
            document_frequency.update(terms)
        n = len(passages)
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in document_frequency.items()}
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)
        self._min_matched_idf = _MIN_MATCHED_RAREST_SHARE * math.log(1 + (n - 1 + 0.5) / 1.5)
        logger.info("Policy %s indexed: %d sections, %d passages", document.source, len(document.sections), n)

    @classmethod
    def from_text(
        cls, text: str, *, source: str = "<text>", min_confidence: float = DEFAULT_MIN_CONFIDENCE
    ) -> PolicyIndex:
        return cls(parse_policy(text, source=source), min_confidence=min_confidence)

    @classmethod
    def from_path(cls, path: Path, *, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> PolicyIndex:
        """Read and index a policy file (UTF-8 plain text or Markdown).

        Raises:
            PolicyLoadError: the file is missing, unreadable, not UTF-8 or has nothing to quote.
        """
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError as error:
            raise PolicyLoadError(f"The policy file {path} does not exist.") from error
        except UnicodeDecodeError as error:
            raise PolicyLoadError(f"The policy file {path} is not UTF-8 text.") from error
        except OSError as error:
            raise PolicyLoadError(f"The policy file {path} cannot be read: {error.strerror}.") from error
        if not text.strip():
            raise PolicyLoadError(f"The policy file {path} is empty.")
        return cls(parse_policy(text, source=str(path)), min_confidence=min_confidence)

    @property
    def passages(self) -> tuple[PolicyPassage, ...]:
        """The indexed passages (duplicates removed, tiny fragments left out)."""
        return tuple(self._passages)

    def question_tokens(self, question: str) -> list[str]:
        """The tokens a question is searched with (normalised, expanded, typos repaired)."""
        return self._analyzer.question(question[:_MAX_QUESTION_CHARS])[1]

    def _ranked(self, question: str, tokens: Sequence[str]) -> list[tuple[int, float]]:
        if not tokens:
            return []
        scores = self._bm25.get_scores(list(tokens))
        pairs = _bigrams(tokens)
        if pairs:
            scores = scores + _PAIR_WEIGHT * self._bm25_pairs.get_scores(pairs)
        about = _asked_about(question)
        if about is not None:
            # "Can pupils use TikTok in school?": the rules written for pupils answer it first.
            scores = np.where(self._addressed_to[about], scores / _OTHER_AUDIENCE_WEIGHT, scores)
        elif _asked_in_first_person(question):
            # The bot's users are staff: "can I ..." is about the rules for staff, not the mirror rule
            # written for pupils or parents.
            scores = np.where(self._addressed_to_others, scores * _OTHER_AUDIENCE_WEIGHT, scores)
        order = np.argsort(-scores, kind="stable")
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]

    def _quotes(self, tokens: Sequence[str], ranked: list[tuple[int, float]], about: str | None) -> list[int]:
        """The best passage, then (up to three in all) passages scoring close to it that quote what it does
        not: "who approves a new class Twitter?" needs SLT's approval and the Head Teacher's N.B."""
        best, best_score = ranked[0]
        weights = {t: self._idf[t] for t in set(tokens) if t in self._idf}  # words the policy uses
        total = sum(weights.values()) or 1.0
        quoted = set(self._passage_terms[best]) & set(weights)
        chosen = [best]
        for i, score in ranked[1:]:
            if self._addressed_to_others[i] and not (about is not None and self._addressed_to[about][i]):
                continue  # a member of staff asking about their own conduct gets no rule written for others beside
            if len(chosen) == _MAX_QUOTES or score < _EXTRA_QUOTE_RATIO[len(chosen) - 1] * best_score:
                break
            new = (self._passage_terms[i] & set(weights)) - quoted
            if sum(weights[t] for t in new) >= _EXTRA_QUOTE_GAIN * total:
                chosen.append(i)
                quoted |= new
        return self._with_notes(chosen, set(weights))

    def _with_notes(self, chosen: list[int], question_terms: set[str]) -> list[int]:
        """A note ("N.B. ...") qualifies the list it closes: quote it beside a passage of its section when it
        is about the question too (two of the question's words), in place of the last extra quote if need be."""
        for position, i in enumerate(list(chosen)):
            for note in self._notes.get(self._passages[i].section, ()):
                if note in chosen or len(self._passage_terms[note] & question_terms) < _NOTE_MIN_SHARED_TERMS:
                    continue
                chosen.insert(position + 1, note)
                return chosen[:_MAX_QUOTES]
        return chosen

    def search(self, question: str, *, limit: int = 3) -> list[SectionMatch]:
        """The sections that best answer a question, best first, each with its best passage."""
        matches: list[SectionMatch] = []
        seen: set[tuple[str, ...]] = set()
        for i, score in self._ranked(question, self.question_tokens(question)):
            passage = self._passages[i]
            if passage.section in seen:
                continue
            seen.add(passage.section)
            matches.append(SectionMatch(section=passage.section_name, score=score, passage=passage))
            if len(matches) == limit:
                break
        return matches

    def _coverage(self, tokens: Sequence[str], passage_index: int) -> tuple[float, float, int]:
        """Share of the question's IDF mass found in the passage, the matched mass, the matched terms."""
        terms = set(tokens)
        weights = {t: self._idf.get(t, self._unknown_idf) for t in terms}
        total = sum(weights.values())
        found = [w for t, w in weights.items() if t in self._passage_terms[passage_index]]
        matched = sum(found)
        return (matched / total if total else 0.0), matched, len(found)

    def _situation_share(self, situations: list[frozenset[str]], passage_index: int) -> float:
        """The largest share of one situation's words (by information) found in the passage; 0 for none."""
        best = 0.0
        for situation in situations:
            weights = {t: self._idf.get(t, self._unknown_idf) for t in situation}
            total = sum(weights.values())
            found = sum(w for t, w in weights.items() if t in self._passage_terms[passage_index])
            best = max(best, found / total if total else 0.0)
        return best

    def answer(self, question: str) -> PolicyAnswer | NotCovered:
        """Answer a staff question from the policy, or say that the policy does not cover it."""
        text = question[:_MAX_QUESTION_CHARS]
        typed, tokens, situation = self._analyzer.question(text)
        ranked = self._ranked(question, tokens)
        if not ranked or not (situation or _SUBJECT_TOKENS & set(typed)):
            return NotCovered(question=question, confidence=0.0, from_sample=self.document.is_sample)
        best, best_score = ranked[0]
        confidence, matched_idf, matched_terms = self._coverage(typed or tokens, best)
        situation_share = self._situation_share(situation, best)
        if situation_share >= _SITUATION_MIN_SHARE:
            confidence = max(confidence, situation_share)
        elif (
            confidence < self.min_confidence
            or matched_idf < self._min_matched_idf
            or matched_terms < min(_MIN_MATCHED_TERMS, len(set(typed)))
        ):
            # The question's words are the member of staff's text: counted, never logged.
            logger.debug("Not covered (confidence %.2f, matched idf %.2f, %d words)", confidence, matched_idf,
                         len(tokens))
            return NotCovered(question=question, confidence=round(confidence, 3), from_sample=self.document.is_sample)
        chosen = self._quotes(tokens, ranked, _asked_about(question))
        scores = dict(ranked)
        quotes = tuple(
            PolicyQuote(
                section=self._passages[i].section_name, text=self._passages[i].text, score=round(scores.get(i, 0.0), 3)
            )
            for i in chosen
        )
        top = self._passages[best]
        what_to_do, source = _what_to_do(self._sections[top.section], top)
        question_terms = frozenset(tokens)
        policy_terms = frozenset().union(*(self._passage_terms[i] for i in chosen))
        flows = tuple(
            rule.flow
            for rule in _FLOW_RULES
            if question_terms & rule.question_any
            and (not rule.question_also or question_terms & rule.question_also)
            and policy_terms & rule.passage_any
        )
        return PolicyAnswer(
            question=question,
            quotes=quotes,
            what_to_do=what_to_do,
            what_to_do_source=source,
            flows=flows,
            confidence=round(confidence, 3),
            from_sample=self.document.is_sample,
        )


def load_policy_index(policy_path: Path | None) -> PolicyIndex:
    """The index for the configured policy (`Settings.policy_path`); None means the bundled sample."""
    return PolicyIndex.from_path(policy_path if policy_path is not None else SAMPLE_POLICY_PATH)
