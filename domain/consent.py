"""Photo consent: the register, name matching and the "can I post this photo?" verdict.

Plain Python and pydantic; no Bot Framework, no database. The Teams dialog and the store call this.

The rules come from the school's Social Media Policy and every refusal quotes the sentence behind it,
word for word (`PolicyQuote`): "Use of images", "Safeguarding of Children / Use of Mobile Phones and
Digital Photography Policy", "Procedures" 1-9 and Appendix 1. Where the policy is silent the verdict
says so (`Verdict.policy_silent`) instead of inventing a rule.

How a caller uses it::

    register = ConsentRegister(entries, version=3)            # or `await ConsentStore.load_register()`
    request = PhotoCheckRequest(
        destination=Destination.school_account("Year 6 Blog"),
        pupils=parse_pupil_names("Amelia Hughes; Smith, Oliver (4C)"),
        device=Device.SCHOOL_DEVICE,
        appropriately_dressed=True, nobody_ridiculed=True, not_in_toilet_or_changing_area=True,
    )
    verdict = check_photo(register, request, school_accounts=["Year 6 Blog"])
    verdict.answer            # Answer.YES only if every rule passes for every pupil
    verdict.needs_pupil_choice  # some names matched several pupils (or none): show the choice card

A verdict never contains a do-not-publish reason, a do-not-photograph note or the photo itself.
"""

from __future__ import annotations

import difflib
import functools
import heapq
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

# --- Policy wording ---------------------------------------------------------------------------------


class PolicyQuote(BaseModel):
    """A sentence of the policy, word for word, and the section it comes from."""

    model_config = ConfigDict(frozen=True)

    section: str
    text: str


_USE_OF_IMAGES = "Use of images"
_SAFEGUARDING = "Safeguarding of Children: Use of Mobile Phones and Digital Photography Policy"
_APPENDIX_1_DOS = "Appendix 1: Managing school social media accounts, The Do's"

Q_CHECK_REGISTER = PolicyQuote(
    section=_USE_OF_IMAGES,
    text="Prior to posting photos of pupils, staff should check the parental consented in the class register.",
)
Q_SEEK_PERMISSION = PolicyQuote(
    section=_USE_OF_IMAGES,
    text="Permission to use any photos or video recordings should be sought in line with the school's GDPR "
    "and data processing, digital and video images policies.",
)
Q_RESPECT_WISHES = PolicyQuote(
    section=_USE_OF_IMAGES,
    text="If anyone asks not to be filmed or photographed then their wishes should be respected.",
)
Q_SCHOOL_ACCOUNTS_ONLY = PolicyQuote(
    section=_USE_OF_IMAGES,
    text="Under no circumstances should staff share or upload student pictures online other than via school "
    "owned social media accounts",
)
Q_PERSONAL_PHONES = PolicyQuote(
    section=_USE_OF_IMAGES,
    text="personal phones are not to be used unless there are exceptional circumstances and it is authorised "
    "by the Head Teacher.",
)
Q_OWN_PHONES = PolicyQuote(
    section=_SAFEGUARDING,
    text="Staff, visitors, volunteers and students are not permitted to use their own mobile phones to take "
    "or record any images of the school's children for their own records during the school day.",
)
Q_PROFESSIONAL_JUDGEMENT = PolicyQuote(
    section=_USE_OF_IMAGES,
    text="Staff should exercise their professional judgement about whether an image is appropriate to share "
    "on school social media accounts.",
)
Q_DRESS_RIDICULE_LIST = PolicyQuote(
    section=_USE_OF_IMAGES,
    text="Students should be appropriately dressed, not be subject to ridicule and must not be on any school "
    "list of children whose images must not be published.",
)
Q_DELETE_COMPROMISING = PolicyQuote(
    section=_USE_OF_IMAGES,
    text="If a member of staff inadvertently takes a compromising picture which could be misconstrued or "
    "misused, they must delete it immediately.",
)
Q_PROCEDURE_1 = PolicyQuote(
    section="Procedures 1",
    text="Under the GDPR Act 2018, the school must seek parental consent to take photographs and use video "
    "recorders.",
)
Q_PROCEDURE_3 = PolicyQuote(
    section="Procedures 3", text="Often photographs may contain other pupils in the background."
)
Q_PROCEDURE_6 = PolicyQuote(
    section="Procedures 6",
    text="On occasion, the school might like to use photographs of pupils taking part in an activity to "
    "advertise/promote the school via the website. In this instance, specific parental permission will be "
    "required, and is sought in the September Data Collection permissions forms.",
)
Q_PROCEDURE_8 = PolicyQuote(
    section="Procedures 8", text="The use of cameras and mobile phones are prohibited in toilet areas."
)
Q_TURN_OFF_TAGGING = PolicyQuote(
    section=_APPENDIX_1_DOS, text="Consider turning off tagging people in images where possible"
)

ALL_QUOTES: tuple[PolicyQuote, ...] = (
    Q_CHECK_REGISTER,
    Q_SEEK_PERMISSION,
    Q_RESPECT_WISHES,
    Q_SCHOOL_ACCOUNTS_ONLY,
    Q_PERSONAL_PHONES,
    Q_OWN_PHONES,
    Q_PROFESSIONAL_JUDGEMENT,
    Q_DRESS_RIDICULE_LIST,
    Q_DELETE_COMPROMISING,
    Q_PROCEDURE_1,
    Q_PROCEDURE_3,
    Q_PROCEDURE_6,
    Q_PROCEDURE_8,
    Q_TURN_OFF_TAGGING,
)
"""Every sentence this module quotes (a test checks each is in the policy word for word)."""

SILENT_ON_NAMES = (
    "The policy does not say whether pupils may be named alongside their photos, so this check does not "
    "decide that."
)
SILENT_ON_CHANGING_AREAS = (
    "The policy names toilet areas only (Procedures 8); changing areas are part of this check because the "
    "school asked for it, not because the policy names them."
)
SILENT_ON_PURPOSE = (
    "The policy has no clause for {purpose} in particular; the general rule on parental consent applies."
)


# --- Configuration: purposes and destinations -------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Purpose(_Frozen):
    """A use of a pupil's image that parents consent to separately (a school convention, configurable)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    title: str = Field(min_length=1, max_length=100)


DISPLAY_IN_SCHOOL = "display_in_school"
SCHOOL_WEBSITE = "school_website"
SCHOOL_SOCIAL_MEDIA = "school_social_media"
NEWSLETTER_PROSPECTUS = "newsletter_prospectus"
PRESS = "press"
VIDEO = "video"

DEFAULT_PURPOSES: tuple[Purpose, ...] = (
    Purpose(key=DISPLAY_IN_SCHOOL, title="display in school"),
    Purpose(key=SCHOOL_WEBSITE, title="the school website"),
    Purpose(key=SCHOOL_SOCIAL_MEDIA, title="school social media"),
    Purpose(key=NEWSLETTER_PROSPECTUS, title="the newsletter and prospectus"),
    Purpose(key=PRESS, title="the press"),
    Purpose(key=VIDEO, title="video"),
)


class DestinationKind(StrEnum):
    """Where the photo will go."""

    SCHOOL_ACCOUNT = "school_account"  # a school social media account from the account register
    SCHOOL_WEBSITE = "school_website"
    DISPLAY_IN_SCHOOL = "display_in_school"
    NEWSLETTER_PROSPECTUS = "newsletter_prospectus"
    PRESS = "press"
    PERSONAL_ACCOUNT = "personal_account"  # always no


class Destination(_Frozen):
    """A destination; a school account names the account as it appears in the account register."""

    kind: DestinationKind
    account_name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _account_name_only_for_school_accounts(self) -> Self:
        if self.kind is DestinationKind.SCHOOL_ACCOUNT and not (self.account_name or "").strip():
            raise ValueError("a school account destination needs the account's name")
        if self.kind is not DestinationKind.SCHOOL_ACCOUNT and self.account_name is not None:
            raise ValueError("only a school account destination has an account name")
        return self

    @classmethod
    def school_account(cls, name: str) -> Destination:
        return cls(kind=DestinationKind.SCHOOL_ACCOUNT, account_name=name)

    @classmethod
    def of(cls, kind: DestinationKind) -> Destination:
        return cls(kind=kind)

    @property
    def label(self) -> str:
        if self.kind is DestinationKind.SCHOOL_ACCOUNT:
            return f"the school account {self.account_name}"
        return DESTINATION_TITLES[self.kind]


DESTINATION_TITLES: dict[DestinationKind, str] = {
    DestinationKind.SCHOOL_ACCOUNT: "a school social media account",
    DestinationKind.SCHOOL_WEBSITE: "the school website",
    DestinationKind.DISPLAY_IN_SCHOOL: "a display in school",
    DestinationKind.NEWSLETTER_PROSPECTUS: "the newsletter or prospectus",
    DestinationKind.PRESS: "the press",
    DestinationKind.PERSONAL_ACCOUNT: "a personal social media account",
}


class Device(StrEnum):
    SCHOOL_DEVICE = "school_device"
    PERSONAL_DEVICE = "personal_device"  # a personal phone or camera


class MediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


class ConsentPolicyConfig(_Frozen):
    """Which purposes exist and which purpose each destination needs.

    Attributes:
        purposes: the consent purposes the school records (defaults: `DEFAULT_PURPOSES`).
        destination_purposes: the purpose each destination needs; a personal account has none (always no).
        video_purpose: the purpose a video needs on top of its destination's (Procedures 1 names "video
            recorders"); None if the school does not record video consent separately.
        purpose_quotes: the policy sentences quoted when a purpose's consent is missing.
    """

    purposes: tuple[Purpose, ...] = DEFAULT_PURPOSES
    destination_purposes: dict[DestinationKind, str] = Field(
        default_factory=lambda: {
            DestinationKind.SCHOOL_ACCOUNT: SCHOOL_SOCIAL_MEDIA,
            DestinationKind.SCHOOL_WEBSITE: SCHOOL_WEBSITE,
            DestinationKind.DISPLAY_IN_SCHOOL: DISPLAY_IN_SCHOOL,
            DestinationKind.NEWSLETTER_PROSPECTUS: NEWSLETTER_PROSPECTUS,
            DestinationKind.PRESS: PRESS,
        }
    )
    video_purpose: str | None = VIDEO
    purpose_quotes: dict[str, tuple[PolicyQuote, ...]] = Field(
        default_factory=lambda: {
            DISPLAY_IN_SCHOOL: (Q_PROCEDURE_1, Q_SEEK_PERMISSION),
            SCHOOL_WEBSITE: (Q_PROCEDURE_6,),
            SCHOOL_SOCIAL_MEDIA: (Q_CHECK_REGISTER,),
            NEWSLETTER_PROSPECTUS: (Q_SEEK_PERMISSION, Q_PROCEDURE_1),
            PRESS: (Q_SEEK_PERMISSION, Q_PROCEDURE_1),
            VIDEO: (Q_PROCEDURE_1,),
        }
    )
    silent_purposes: frozenset[str] = frozenset({NEWSLETTER_PROSPECTUS, PRESS})
    """Purposes the policy has no clause of its own for (the verdict says so)."""

    @model_validator(mode="after")
    def _purposes_exist(self) -> Self:
        keys = [purpose.key for purpose in self.purposes]
        if len(set(keys)) != len(keys):
            raise ValueError("purpose keys must be unique")
        if DestinationKind.PERSONAL_ACCOUNT in self.destination_purposes:
            raise ValueError("a personal account is always no: it cannot be given a purpose")
        used = set(self.destination_purposes.values()) | ({self.video_purpose} - {None})
        unknown = sorted(str(key) for key in used - set(keys))
        if unknown:
            raise ValueError(f"destinations refer to unknown purposes: {', '.join(unknown)}")
        return self

    def purpose(self, key: str) -> Purpose:
        for purpose in self.purposes:
            if purpose.key == key:
                return purpose
        return Purpose(key=key, title=key.replace("_", " "))

    def quotes_for(self, key: str) -> tuple[PolicyQuote, ...]:
        return self.purpose_quotes.get(key, (Q_SEEK_PERMISSION,))

    def purposes_needed(self, destination: Destination, media: MediaKind) -> tuple[Purpose, ...]:
        """The purposes a photo or video for this destination needs consent for (empty: never allowed)."""
        key = self.destination_purposes.get(destination.kind)
        if key is None:
            return ()
        keys = [key]
        if media is MediaKind.VIDEO and self.video_purpose and self.video_purpose != key:
            keys.append(self.video_purpose)
        return tuple(self.purpose(k) for k in keys)


DEFAULT_CONFIG = ConsentPolicyConfig()


class ConsentPurposesFile(_Frozen):
    """What a school may set in its purposes file (``POLICYBOT_CONSENT_PURPOSES_FILE``, JSON).

    Only the purposes and which one each destination needs: the policy quotes stay the bot's (a purpose of the
    school's own is quoted with the policy's general "seek permission" sentence). Left out: the default.
    """

    purposes: tuple[Purpose, ...] = DEFAULT_PURPOSES
    destination_purposes: dict[DestinationKind, str] = Field(
        default_factory=lambda: dict(DEFAULT_CONFIG.destination_purposes)
    )
    video_purpose: str | None = DEFAULT_CONFIG.video_purpose

    def config(self) -> ConsentPolicyConfig:
        """The checks' configuration (validated: every destination's purpose must be one of the purposes)."""
        return ConsentPolicyConfig(purposes=self.purposes, destination_purposes=self.destination_purposes,
                                   video_purpose=self.video_purpose)

    @classmethod
    def load(cls, path: Path) -> ConsentPolicyConfig:
        """The configuration in a purposes file.

        Raises:
            OSError: the file cannot be read.
            ValueError: it is not JSON of this shape (pydantic's ValidationError is a ValueError).
        """
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8-sig"))).config()


# --- The register ----------------------------------------------------------------------------------


class ConsentState(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    NOT_ASKED = "not_asked"  # counts as no
    WITHDRAWN = "withdrawn"


class ConsentRecord(_Frozen):
    """A parent's answer for one purpose; a withdrawal carries its date when the MIS has one."""

    state: ConsentState
    withdrawn_on: date | None = None

    @model_validator(mode="after")
    def _date_only_when_withdrawn(self) -> Self:
        if self.withdrawn_on is not None and self.state is not ConsentState.WITHDRAWN:
            raise ValueError("only a withdrawn consent has a withdrawal date")
        return self


NOT_ASKED = ConsentRecord(state=ConsentState.NOT_ASKED)
GRANTED = ConsentRecord(state=ConsentState.GRANTED)
REFUSED = ConsentRecord(state=ConsentState.REFUSED)


class Pupil(_Frozen):
    """A pupil as staff may see them (no consent details, no do-not-publish reason)."""

    pupil_id: str = Field(min_length=1, max_length=64)
    first_name: str = Field(min_length=1, max_length=100)
    surname: str = Field(min_length=1, max_length=100)
    class_name: str = Field(default="", max_length=50)
    year_group: str = Field(default="", max_length=50)
    preferred_first_name: str | None = Field(default=None, max_length=100)

    @property
    def display_name(self) -> str:
        preferred = self.preferred_first_name
        if preferred and normalise_name(preferred) != normalise_name(self.first_name):
            return f"{self.first_name} ({preferred}) {self.surname}"
        return f"{self.first_name} {self.surname}"

    @property
    def class_label(self) -> str:
        parts = [part for part in (self.class_name, self.year_group) if part]
        return ", ".join(parts) if parts else "no class recorded"


class RegisterEntry(_Frozen):
    """One pupil's row of the register: consent per purpose and the do-not-publish flag.

    `do_not_publish_reason` is for the data admin and the DSL only: it never reaches a verdict.
    """

    pupil: Pupil
    consents: dict[str, ConsentRecord] = Field(default_factory=dict)
    do_not_publish: bool = False
    do_not_publish_reason: str | None = Field(default=None, repr=False, max_length=2000)

    def consent_for(self, purpose: str) -> ConsentRecord:
        """The consent for a purpose; a purpose with no answer is NOT_ASKED (which counts as no)."""
        return self.consents.get(purpose, NOT_ASKED)


# --- Names -----------------------------------------------------------------------------------------

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NOT_NAME = re.compile(r"[^\w]+|_")
_EXTRA_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe",
                                "ı": "i", "ŀ": "l", "ħ": "h"})


@functools.lru_cache(maxsize=65_536)  # a register repeats first names and surnames a lot
def normalise_name(text: str) -> str:
    """A name as a lookup key: case, accents, apostrophes, hyphens and spacing do not matter.

    >>> normalise_name("  Zoë  O'Brien-Smith ")
    'zoe obrien smith'
    """
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = text.casefold().translate(_EXTRA_LETTERS)
    return " ".join(_NOT_NAME.sub(" ", _APOSTROPHES.sub("", folded)).split())


def _normalise_class(text: str) -> str:
    key = normalise_name(text).replace(" ", "")
    return re.sub(r"^(?:year|yr|y)(?=\d)", "", key)


class TypedPupil(_Frozen):
    """A pupil as staff typed them: a name, perhaps a class in brackets, or a chosen pupil id."""

    text: str = Field(min_length=1, max_length=200)
    class_hint: str | None = Field(default=None, max_length=50)
    pupil_id: str | None = Field(default=None, max_length=64)

    @property
    def name_key(self) -> str:
        """The normalised "first surname" key ("Surname, First" is turned round)."""
        if "," in self.text:
            surname, _, first = self.text.partition(",")
            return normalise_name(f"{first} {surname}")
        return normalise_name(self.text)


_LIST_SEPARATORS = re.compile(r"[\n;]+|\s+(?:and|&)\s+", re.IGNORECASE)
_CLASS_HINT = re.compile(r"^(?P<name>.*?)\s*[(\[](?P<hint>[^)\]]*)[)\]]\s*$")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")


def parse_pupil_names(text: str) -> list[TypedPupil]:
    """Split what staff typed into pupils.

    Pupils are separated by new lines, semicolons, "and", "&" or commas. "Surname, First" is understood
    when a single word is followed by a comma (so "Hughes, Amelia, Oliver Smith" is two pupils). A class
    in brackets tells same-named pupils apart: "Oliver Smith (4C)".
    """
    pupils: list[TypedPupil] = []
    for chunk in _LIST_SEPARATORS.split(text):
        parts = [part.strip() for part in _BULLET.sub("", chunk).split(",")]
        parts = [part for part in parts if part]
        index = 0
        while index < len(parts):
            part = parts[index]
            if len(part.split()) == 1 and index + 1 < len(parts) and not _CLASS_HINT.match(part):
                part = f"{part}, {parts[index + 1]}"
                index += 1
            index += 1
            pupils.append(_typed(part))
    return [pupil for pupil in pupils if pupil.text]


def _typed(part: str) -> TypedPupil:
    hint: str | None = None
    match = _CLASS_HINT.match(part)
    if match and match.group("name").strip():
        part, hint = match.group("name").strip(), match.group("hint").strip() or None
    return TypedPupil(text=part[:200], class_hint=hint[:50] if hint else None)


class ResolutionStatus(StrEnum):
    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"  # several pupils have this name: ask which
    NOT_FOUND = "not_found"  # no pupil has this name: offer close matches


class NameResolution(_Frozen):
    """What a typed name matched: one pupil, several (same name) or none (with close matches)."""

    typed: TypedPupil
    status: ResolutionStatus
    pupil: Pupil | None = None
    candidates: tuple[Pupil, ...] = ()


_SUGGESTION_LIMIT = 5
_SUGGESTION_MIN_RATIO = 0.6  # difflib ratio below which a name is too far off to offer
_NICKNAME_SIMILARITY = 0.9  # "Ollie" for Oliver: as close as a one-letter typo
_PREFIX_SIMILARITY = 0.85  # "Jay" for Jayden: a short form that starts the name
_MIN_PREFIX = 3  # "Al" starts too many names to mean any of them
# Short forms a school hears every day, to the names a register holds (a short form that starts the name, "Jay" for
# Jayden, needs no entry: `_close_tokens` matches those). Only a suggestion: staff choose, nothing is assumed.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "alfie": ("alfred",), "archie": ("archibald",), "bella": ("isabella", "isabelle", "annabella"),
    "bill": ("william",), "billy": ("william",), "bobby": ("robert",), "charlie": ("charles", "charlotte"),
    "ellie": ("eleanor", "elena", "ellen"), "evie": ("eve", "evelyn"), "freddie": ("frederick", "alfred"),
    "harry": ("henry", "harrison", "harold"), "izzy": ("isabella", "isobel", "isabel"), "jack": ("john", "jackson"),
    "jim": ("james",), "jimmy": ("james",), "katie": ("katherine", "catherine", "kate"), "kit": ("christopher",),
    "lottie": ("charlotte",), "maddie": ("madison", "madeleine", "madeline"), "millie": ("amelia", "emily", "mildred"),
    "molly": ("mary",), "nell": ("eleanor", "helen"), "ollie": ("oliver",), "olly": ("oliver",),
    "rosie": ("rose", "rosalind"), "sam": ("samuel", "samantha"), "sammy": ("samuel", "samantha"),
    "teddy": ("edward", "theodore"), "theo": ("theodore",), "tom": ("thomas",), "tommy": ("thomas",),
    "will": ("william",), "zac": ("zachary",), "zach": ("zachary",),
}
_CLOSE_TOKEN_MIN_RATIO = 0.7
_CLOSE_TOKEN_POOL = 8  # words sharing most trigrams with a typed word, compared with difflib
_CLOSE_TOKEN_MIN_DICE = 0.25  # fewer shared trigrams than this: not worth comparing
_CLOSE_CACHE_SIZE = 20_000  # typed words remembered per register
_RANKING_POOL = 8  # pupils with the best word scores, ranked by difflib on the whole name


def _trigrams(token: str) -> set[str]:
    padded = f"^{token}$"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


class ConsentRegister:
    """The whole consent register in memory, indexed for name lookups in microseconds.

    Args:
        entries: one per pupil (pupil ids must be unique).
        version: the register version it was loaded from (0: no register imported yet).
        purposes: the purposes the register was imported with.
        do_not_photograph: pupil ids with an open "do not photograph" request (recorded by staff).
    """

    def __init__(
        self,
        entries: Iterable[RegisterEntry],
        *,
        version: int = 0,
        purposes: Sequence[Purpose] = DEFAULT_PURPOSES,
        do_not_photograph: Collection[str] = frozenset(),
    ) -> None:
        self.version = version
        self.purposes = tuple(purposes)
        self.do_not_photograph: frozenset[str] = frozenset(do_not_photograph)
        self._entries: list[RegisterEntry] = []
        self._by_id: dict[str, int] = {}
        self._by_name: dict[str, list[int]] = {}
        self._keys: list[str] = []
        self._reversed_keys: list[str] = []
        self._tokens: list[tuple[str, ...]] = []
        self._by_token: dict[str, list[int]] = {}
        self._tokens_by_gram: dict[str, list[str]] = {}
        self._gram_counts: dict[str, int] = {}
        self._close_cache: dict[str, dict[str, float]] = {}
        for entry in entries:
            self._add(entry)
        for token in self._by_token:
            grams = _trigrams(token)
            self._gram_counts[token] = len(grams)
            for gram in grams:
                self._tokens_by_gram.setdefault(gram, []).append(token)

    def _add(self, entry: RegisterEntry) -> None:
        pupil = entry.pupil
        if pupil.pupil_id in self._by_id:
            raise ValueError(f"pupil id {pupil.pupil_id!r} appears twice in the register")
        index = len(self._entries)
        self._entries.append(entry)
        self._by_id[pupil.pupil_id] = index
        surname = normalise_name(pupil.surname)
        firsts = {normalise_name(pupil.first_name)}
        if pupil.preferred_first_name:
            firsts.add(normalise_name(pupil.preferred_first_name))
        keys: set[str] = set()
        for first in firsts:
            keys.add(f"{first} {surname}")
            keys.add(f"{first.split(' ')[0]} {surname}")  # without middle names
        for key in keys:
            self._by_name.setdefault(key, []).append(index)
        self._keys.append(f"{normalise_name(pupil.first_name)} {surname}")
        self._reversed_keys.append(f"{surname} {normalise_name(pupil.first_name)}")
        tokens = tuple(sorted(set(" ".join([*firsts, surname]).split())))
        self._tokens.append(tokens)
        for token in tokens:
            self._by_token.setdefault(token, []).append(index)

    def with_do_not_photograph(self, pupil_ids: Collection[str]) -> ConsentRegister:
        """The same register (indexes shared, nothing copied) with another set of open requests."""
        clone = object.__new__(ConsentRegister)
        clone.__dict__.update(self.__dict__)
        clone.do_not_photograph = frozenset(pupil_ids)
        return clone

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> Sequence[RegisterEntry]:
        return tuple(self._entries)

    def get(self, pupil_id: str) -> RegisterEntry | None:
        index = self._by_id.get(pupil_id)
        return None if index is None else self._entries[index]

    def resolve(self, typed: TypedPupil) -> NameResolution:
        """Match a typed pupil against the register (see `NameResolution`)."""
        if typed.pupil_id is not None:
            entry = self.get(typed.pupil_id)
            if entry is None:
                return NameResolution(typed=typed, status=ResolutionStatus.NOT_FOUND)
            return NameResolution(typed=typed, status=ResolutionStatus.MATCHED, pupil=entry.pupil)
        indices = self._by_name.get(typed.name_key, [])
        if typed.class_hint and indices:
            hint = _normalise_class(typed.class_hint)
            in_class = [i for i in indices if self._in_class(i, hint)]
            if not in_class:  # the class fits nobody of that name: ask, do not guess
                return NameResolution(
                    typed=typed, status=ResolutionStatus.AMBIGUOUS, candidates=self._sorted_pupils(indices)
                )
            indices = in_class
        if len(indices) == 1:
            return NameResolution(typed=typed, status=ResolutionStatus.MATCHED, pupil=self._entries[indices[0]].pupil)
        if indices:
            return NameResolution(
                typed=typed, status=ResolutionStatus.AMBIGUOUS, candidates=self._sorted_pupils(indices)
            )
        return NameResolution(
            typed=typed, status=ResolutionStatus.NOT_FOUND, candidates=tuple(self.suggest(typed.name_key))
        )

    def _in_class(self, index: int, hint: str) -> bool:
        pupil = self._entries[index].pupil
        return hint in (_normalise_class(pupil.class_name), _normalise_class(pupil.year_group))

    def _sorted_pupils(self, indices: Iterable[int]) -> tuple[Pupil, ...]:
        pupils = (self._entries[i].pupil for i in indices)
        return tuple(sorted(pupils, key=lambda p: (p.class_name, p.year_group, p.surname, p.pupil_id)))

    def suggest(self, typed_key: str, limit: int = _SUGGESTION_LIMIT) -> list[Pupil]:
        """Pupils whose names are close to a typed name (typos, swapped order, a missing letter).

        Each typed word is matched to close words of the register (trigram index, then difflib), to the names
        a short form stands for ("Ollie": Oliver, `NICKNAMES`) and to names it starts ("Jay": Jayden); pupils
        score the sum of their best word similarities; the best few are ranked by difflib on the whole name, or
        by their word score when every typed word is close to one of their names. Names and classes only: a
        suggestion says nothing about consent.
        """
        typed_key = normalise_name(typed_key)
        typed_words = typed_key.split()
        closes = [close for close in (self._close_tokens(t) for t in typed_words) if close]
        if not closes or not self._entries:
            return []
        matches = [set().union(*(self._by_token[word] for word in close)) for close in closes]
        pool: set[int] = set()
        for i, first in enumerate(matches):  # pupils matching two typed words, if there are any
            for second in matches[i + 1 :]:
                pool |= first & second
        if not pool:
            pool = set().union(*matches)

        def score(index: int) -> tuple[float, int]:
            words = self._tokens[index]
            return sum(max((close.get(w, 0.0) for w in words), default=0.0) for close in closes), -index

        best = heapq.nlargest(_RANKING_POOL, pool, key=score)
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(typed_key)
        ranked: list[tuple[float, int]] = []
        for index in best:
            # Every typed word close to a word of the pupil's names ("Ollie Smyth" for Oliver Smith): as close as that.
            words, _ = score(index)
            every_word = all(any(w in close for w in self._tokens[index]) for close in closes)
            ratio = words / len(closes) if every_word and len(closes) == len(typed_words) else 0.0
            if len(typed_words) == 1 and ratio < _PREFIX_SIMILARITY:  # one word ("Smith"): only a near-certain word
                ratio = 0.0
            ratio = max(ratio, _SUGGESTION_MIN_RATIO - 1e-9)  # anything below is not worth offering
            for key in (self._keys[index], self._reversed_keys[index]):  # "Hughes Amelia" typed without a comma
                matcher.set_seq1(key)
                if matcher.real_quick_ratio() > ratio and matcher.quick_ratio() > ratio:
                    ratio = max(ratio, matcher.ratio())
            if ratio >= _SUGGESTION_MIN_RATIO:
                ranked.append((ratio, index))
        ranked.sort(key=lambda item: (-item[0], self._keys[item[1]], self._entries[item[1]].pupil.pupil_id))
        return [self._entries[index].pupil for _, index in ranked[:limit]]

    def _close_tokens(self, token: str) -> dict[str, float]:
        """Words of the register close to a typed word, with their similarity (1.0: the same word).

        Candidates are the words sharing most trigrams (Dice coefficient from the index); only the best
        few are compared with difflib. Answers are remembered: typed first names repeat a lot.
        """
        known = self._close_cache.get(token)
        if known is not None:
            return known
        grams = _trigrams(token)
        counts: Counter[str] = Counter()
        for gram in grams:
            counts.update(self._tokens_by_gram.get(gram, ()))
        dice = {word: 2 * shared / (len(grams) + self._gram_counts[word]) for word, shared in counts.items()}
        close: dict[str, float] = {token: 1.0} if token in self._by_token else {}
        for formal in NICKNAMES.get(token, ()):  # "Ollie" for Oliver
            if formal in self._by_token:
                close.setdefault(formal, _NICKNAME_SIMILARITY)
        if len(token) >= _MIN_PREFIX:  # "Jay" for Jayden, "Chris" for Christopher
            for word in self._tokens_by_gram.get(f"^{token[:2]}", ()):
                if word != token and word.startswith(token):
                    close.setdefault(word, _PREFIX_SIMILARITY)
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(token)
        cut = _CLOSE_TOKEN_MIN_RATIO
        for word in heapq.nlargest(_CLOSE_TOKEN_POOL, dice, key=lambda w: (dice[w], w)):
            if word in close or dice[word] < _CLOSE_TOKEN_MIN_DICE:
                continue
            matcher.set_seq1(word)
            if matcher.real_quick_ratio() >= cut and matcher.quick_ratio() >= cut:
                ratio = matcher.ratio()
                if ratio >= cut:
                    close[word] = ratio
        if len(self._close_cache) >= _CLOSE_CACHE_SIZE:
            self._close_cache.clear()
        self._close_cache[token] = close
        return close


# --- The check -------------------------------------------------------------------------------------


class PhotoCheckRequest(_Frozen):
    """What staff tell the bot about a photo (never the photo itself).

    The three content checks are what the member of staff confirms; anything not confirmed is a no.
    """

    destination: Destination
    pupils: tuple[TypedPupil, ...] = Field(min_length=1, max_length=100)
    device: Device
    media: MediaKind = MediaKind.PHOTO
    appropriately_dressed: bool
    nobody_ridiculed: bool
    not_in_toilet_or_changing_area: bool


class Answer(StrEnum):
    YES = "yes"
    NO = "no"


class ReasonCode(StrEnum):
    # about a pupil
    NO_CONSENT = "no_consent"  # not asked, or no answer recorded: counts as no
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    DO_NOT_PUBLISH = "do_not_publish"
    DO_NOT_PHOTOGRAPH = "do_not_photograph"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    # about the photo
    PERSONAL_ACCOUNT = "personal_account"
    UNREGISTERED_ACCOUNT = "unregistered_account"
    NO_PURPOSE_RECORDED = "no_purpose_recorded"  # the school records no consent for this destination
    PERSONAL_DEVICE = "personal_device"
    NOT_APPROPRIATELY_DRESSED = "not_appropriately_dressed"
    SUBJECT_TO_RIDICULE = "subject_to_ridicule"
    PRIVATE_AREA = "private_area"


class Reason(_Frozen):
    """Why the answer is no, in plain words, with the policy sentences behind it.

    `text` never contains what staff typed (cards show names separately, escaped).
    """

    code: ReasonCode
    text: str
    quotes: tuple[PolicyQuote, ...]
    purpose: str | None = None


class ReminderCode(StrEnum):
    TURN_OFF_TAGGING = "turn_off_tagging"
    DELETE_COMPROMISING = "delete_compromising"
    PUPILS_IN_BACKGROUND = "pupils_in_background"
    PROFESSIONAL_JUDGEMENT = "professional_judgement"


class Reminder(_Frozen):
    code: ReminderCode
    text: str
    quote: PolicyQuote


class PupilVerdict(_Frozen):
    """The answer for one typed name; `position` is its index in `PhotoCheckRequest.pupils`."""

    position: int
    typed: TypedPupil
    status: ResolutionStatus
    pupil: Pupil | None = None
    allowed: bool
    reasons: tuple[Reason, ...] = ()
    candidates: tuple[Pupil, ...] = ()  # same-named pupils, or close matches for a name not found


class Verdict(_Frozen):
    """The answer to "can I post this photo?": YES only if every rule passes for every pupil."""

    answer: Answer
    destination: Destination
    device: Device
    media: MediaKind
    purposes: tuple[Purpose, ...]
    pupils: tuple[PupilVerdict, ...]
    reasons: tuple[Reason, ...] = ()  # about the photo as a whole (destination, device, content)
    reminders: tuple[Reminder, ...] = ()
    policy_silent: tuple[str, ...] = ()
    can_request_device_exception: bool = False
    device_exception_used: bool = False
    register_version: int = 0

    @property
    def allowed(self) -> bool:
        return self.answer is Answer.YES

    @property
    def needs_pupil_choice(self) -> bool:
        """Some names matched several pupils or none: show the disambiguation card and check again."""
        return any(p.status is not ResolutionStatus.MATCHED for p in self.pupils)

    @property
    def pupil_ids(self) -> tuple[str, ...]:
        return tuple(p.pupil.pupil_id for p in self.pupils if p.pupil is not None)

    def all_reasons(self) -> tuple[Reason, ...]:
        return self.reasons + tuple(reason for pupil in self.pupils for reason in pupil.reasons)

    def quotes(self) -> tuple[PolicyQuote, ...]:
        """Every policy sentence behind the reasons, each once, in order of first use."""
        seen: dict[PolicyQuote, None] = {}
        for reason in self.all_reasons():
            for quote in reason.quotes:
                seen.setdefault(quote, None)
        return tuple(seen)


def _format_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _consent_reason(record: ConsentRecord, purpose: Purpose, config: ConsentPolicyConfig) -> Reason | None:
    quotes = config.quotes_for(purpose.key)
    match record.state:
        case ConsentState.GRANTED:
            return None
        case ConsentState.REFUSED:
            text = f"consent for {purpose.title} was refused"
            code = ReasonCode.REFUSED
        case ConsentState.WITHDRAWN:
            when = f"on {_format_date(record.withdrawn_on)}" if record.withdrawn_on else "(date not recorded)"
            text = f"consent for {purpose.title} was withdrawn {when}"
            code = ReasonCode.WITHDRAWN
        case ConsentState.NOT_ASKED:
            text = f"no consent recorded for {purpose.title} (not asked counts as no)"
            code = ReasonCode.NO_CONSENT
    return Reason(code=code, text=text, quotes=quotes, purpose=purpose.key)


_REASON_NOT_FOUND = Reason(
    code=ReasonCode.NOT_FOUND,
    text="not found in the consent register, so consent cannot be checked: choose the pupil or check "
    "the spelling",
    quotes=(Q_CHECK_REGISTER,),
)
_REASON_AMBIGUOUS = Reason(
    code=ReasonCode.AMBIGUOUS,
    text="more than one pupil has this name: choose which one",
    quotes=(Q_CHECK_REGISTER,),
)
_REASON_DO_NOT_PUBLISH = Reason(
    code=ReasonCode.DO_NOT_PUBLISH,
    text="on the school's list of children whose images must not be published",
    quotes=(Q_DRESS_RIDICULE_LIST,),
)
_REASON_DO_NOT_PHOTOGRAPH = Reason(
    code=ReasonCode.DO_NOT_PHOTOGRAPH,
    text="the pupil or a parent has asked that the pupil is not photographed or filmed",
    quotes=(Q_RESPECT_WISHES,),
)


def _pupil_verdict(
    register: ConsentRegister,
    position: int,
    typed: TypedPupil,
    purposes: Sequence[Purpose],
    config: ConsentPolicyConfig,
) -> PupilVerdict:
    resolution = register.resolve(typed)
    if resolution.status is not ResolutionStatus.MATCHED or resolution.pupil is None:
        reason = _REASON_AMBIGUOUS if resolution.status is ResolutionStatus.AMBIGUOUS else _REASON_NOT_FOUND
        return PupilVerdict(
            position=position,
            typed=typed,
            status=resolution.status,
            allowed=False,
            reasons=(reason,),
            candidates=resolution.candidates,
        )
    pupil = resolution.pupil
    entry = register.get(pupil.pupil_id)
    assert entry is not None  # resolve() only matches pupils of this register
    reasons: list[Reason] = []
    if entry.do_not_publish:
        reasons.append(_REASON_DO_NOT_PUBLISH)
    if pupil.pupil_id in register.do_not_photograph:
        reasons.append(_REASON_DO_NOT_PHOTOGRAPH)
    for purpose in purposes:
        refused = _consent_reason(entry.consent_for(purpose.key), purpose, config)
        if refused is not None:
            reasons.append(refused)
    # No purpose (a personal account) can never be a yes for the pupil either.
    allowed = not reasons and bool(purposes)
    return PupilVerdict(
        position=position,
        typed=typed,
        status=ResolutionStatus.MATCHED,
        pupil=pupil,
        allowed=allowed,
        reasons=tuple(reasons),
    )


def _account_key(name: str) -> str:
    return " ".join(name.casefold().split())


def _photo_reasons(
    request: PhotoCheckRequest, school_accounts: Collection[str], device_exception_authorised: bool
) -> list[Reason]:
    reasons: list[Reason] = []
    destination = request.destination
    if destination.kind is DestinationKind.PERSONAL_ACCOUNT:
        reasons.append(
            Reason(
                code=ReasonCode.PERSONAL_ACCOUNT,
                text="pupils' pictures may only go online through school owned social media accounts, "
                "never a personal account",
                quotes=(Q_SCHOOL_ACCOUNTS_ONLY,),
            )
        )
    elif destination.kind is DestinationKind.SCHOOL_ACCOUNT:
        registered = {_account_key(name) for name in school_accounts}
        if _account_key(destination.account_name or "") not in registered:
            reasons.append(
                Reason(
                    code=ReasonCode.UNREGISTERED_ACCOUNT,
                    text="this account is not in the school's register of approved accounts",
                    quotes=(Q_SCHOOL_ACCOUNTS_ONLY,),
                )
            )
    if request.device is Device.PERSONAL_DEVICE and not device_exception_authorised:
        reasons.append(
            Reason(
                code=ReasonCode.PERSONAL_DEVICE,
                text="taken on a personal device: not allowed unless the Head Teacher authorises an exception",
                quotes=(Q_PERSONAL_PHONES, Q_OWN_PHONES),
            )
        )
    if not request.appropriately_dressed:
        reasons.append(
            Reason(
                code=ReasonCode.NOT_APPROPRIATELY_DRESSED,
                text="not confirmed that everyone is appropriately dressed",
                quotes=(Q_DRESS_RIDICULE_LIST,),
            )
        )
    if not request.nobody_ridiculed:
        reasons.append(
            Reason(
                code=ReasonCode.SUBJECT_TO_RIDICULE,
                text="not confirmed that nobody is subject to ridicule",
                quotes=(Q_DRESS_RIDICULE_LIST,),
            )
        )
    if not request.not_in_toilet_or_changing_area:
        reasons.append(
            Reason(
                code=ReasonCode.PRIVATE_AREA,
                text="not confirmed that it was taken outside toilet and changing areas",
                quotes=(Q_PROCEDURE_8, Q_DRESS_RIDICULE_LIST),
            )
        )
    return reasons


def _reminders(request: PhotoCheckRequest) -> list[Reminder]:
    reminders = [
        Reminder(
            code=ReminderCode.PUPILS_IN_BACKGROUND,
            text="Check consent for every pupil who can be seen, including those in the background.",
            quote=Q_PROCEDURE_3,
        ),
        Reminder(
            code=ReminderCode.DELETE_COMPROMISING,
            text="Delete at once any picture that could be misconstrued or misused.",
            quote=Q_DELETE_COMPROMISING,
        ),
    ]
    if request.destination.kind is DestinationKind.SCHOOL_ACCOUNT:
        reminders.insert(
            0,
            Reminder(
                code=ReminderCode.TURN_OFF_TAGGING,
                text="Turn off tagging of people in the image if the platform lets you.",
                quote=Q_TURN_OFF_TAGGING,
            ),
        )
        reminders.append(
            Reminder(
                code=ReminderCode.PROFESSIONAL_JUDGEMENT,
                text="Even when the register allows it, whether the image is appropriate to share is your "
                "professional judgement.",
                quote=Q_PROFESSIONAL_JUDGEMENT,
            )
        )
    return reminders


def _policy_silent(request: PhotoCheckRequest, purposes: Sequence[Purpose], config: ConsentPolicyConfig) -> list[str]:
    notes = [SILENT_ON_NAMES]
    if not request.not_in_toilet_or_changing_area:
        notes.append(SILENT_ON_CHANGING_AREAS)
    notes.extend(
        SILENT_ON_PURPOSE.format(purpose=purpose.title) for purpose in purposes if purpose.key in config.silent_purposes
    )
    return notes


def check_photo(
    register: ConsentRegister,
    request: PhotoCheckRequest,
    *,
    school_accounts: Collection[str] = (),
    device_exception_authorised: bool = False,
    config: ConsentPolicyConfig = DEFAULT_CONFIG,
) -> Verdict:
    """Decide whether a photo may be posted.

    YES only if the destination is allowed, the device is allowed, every content check is confirmed, and
    every typed pupil is matched to exactly one pupil of the register who has GRANTED consent for every
    purpose the destination (and, for a video, video) needs, is not on the do-not-publish list and has no
    open "do not photograph" request. Anything else is NO, with a reason per pupil and per problem.

    Args:
        register: the current consent register.
        request: what staff said about the photo.
        school_accounts: names of the school's approved accounts (the account register, someone else's).
        device_exception_authorised: the Head Teacher has authorised a personal-device exception for this
            photo (from the approval mechanism; never from what a card claims).
        config: purposes and the destination→purpose mapping.
    """
    purposes = config.purposes_needed(request.destination, request.media)
    general = _photo_reasons(request, school_accounts, device_exception_authorised)
    if not purposes and request.destination.kind is not DestinationKind.PERSONAL_ACCOUNT:
        where = DESTINATION_TITLES[request.destination.kind]
        general.insert(0, Reason(
            code=ReasonCode.NO_PURPOSE_RECORDED,
            text=f"the school's consent register records no consent for {where}, so no pupil can be checked for "
            "it: ask SLT",
            quotes=(Q_SEEK_PERMISSION,),
        ))
    pupils: list[PupilVerdict] = []
    seen: set[str] = set()
    for position, typed in enumerate(request.pupils):
        pupil_verdict = _pupil_verdict(register, position, typed, purposes, config)
        if pupil_verdict.pupil is not None:
            if pupil_verdict.pupil.pupil_id in seen:
                continue  # the same pupil typed twice
            seen.add(pupil_verdict.pupil.pupil_id)
        pupils.append(pupil_verdict)
    allowed = bool(purposes) and not general and bool(pupils) and all(p.allowed for p in pupils)
    # Offer to ask the Head Teacher only when her exception would turn the answer into yes: the personal
    # device is the one problem left (never for a personal account, a missing consent or a content check).
    device_blocked = (
        [reason.code for reason in general] == [ReasonCode.PERSONAL_DEVICE]
        and bool(purposes)
        and bool(pupils)
        and all(p.allowed for p in pupils)
    )
    return Verdict(
        answer=Answer.YES if allowed else Answer.NO,
        destination=request.destination,
        device=request.device,
        media=request.media,
        purposes=purposes,
        pupils=tuple(pupils),
        reasons=tuple(general),
        reminders=tuple(_reminders(request)),
        policy_silent=tuple(_policy_silent(request, purposes, config)),
        can_request_device_exception=device_blocked
        and request.destination.kind is not DestinationKind.PERSONAL_ACCOUNT,
        device_exception_used=request.device is Device.PERSONAL_DEVICE and device_exception_authorised,
        register_version=register.version,
    )


def resolve_names(register: ConsentRegister, text: str) -> list[NameResolution]:
    """Parse typed names and match each against the register (for a dialog that asks before checking)."""
    return [register.resolve(typed) for typed in parse_pupil_names(text)]


def with_choices(pupils: Sequence[TypedPupil], choices: Mapping[int, str]) -> tuple[TypedPupil, ...]:
    """The typed pupils with the ones staff chose on the disambiguation card pinned to a pupil id.

    Args:
        pupils: the typed pupils of the request, in order.
        choices: position in `pupils` → chosen pupil id.
    """
    return tuple(
        typed.model_copy(update={"pupil_id": choices[index]}) if index in choices else typed
        for index, typed in enumerate(pupils)
    )


def typed_line(typed: TypedPupil) -> str:
    """A typed pupil as one line of the question's box again ("Smith, Oliver (4C)"): `parse_pupil_names` reads it back
    as the same pupil."""
    return f"{typed.text} ({typed.class_hint})" if typed.class_hint else typed.text


class Corrected(NamedTuple):
    """The typed pupils after names were typed again (`with_corrections`)."""

    pupils: tuple[TypedPupil, ...]
    choices: dict[int, str]  # new position → chosen pupil id
    positions: dict[int, tuple[int, ...]]  # old position → its new positions (several if typed again as several)


def with_corrections(
    pupils: Sequence[TypedPupil], choices: Mapping[int, str], corrections: Mapping[int, str]
) -> Corrected:
    """The typed pupils with names staff typed again (on the choice card) in place of the ones not found.

    A correction replaces the pupil at its position by the names it holds (usually one; none: ignored) and wins over
    a choice for the same position; the other choices follow their pupils to their new positions.

    Args:
        pupils: the typed pupils of the request, in order.
        choices: position → chosen pupil id (as for `with_choices`).
        corrections: position → the name typed again.
    """
    corrected: list[TypedPupil] = []
    moved: dict[int, str] = {}
    positions: dict[int, tuple[int, ...]] = {}
    for index, typed in enumerate(pupils):
        again = parse_pupil_names(corrections[index]) if index in corrections else []
        if again:
            positions[index] = tuple(range(len(corrected), len(corrected) + len(again)))
            corrected.extend(again)
            continue
        if index in choices:
            moved[len(corrected)] = choices[index]
        positions[index] = (len(corrected),)
        corrected.append(typed)
    return Corrected(tuple(corrected), moved, positions)
