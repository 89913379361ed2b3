"""Text hygiene for cards: what other people typed is shown as it is, inert, and cannot pretend.

Two dangers come with text the bot did not write (names from the directory, what staff typed into a form or a
card, a Teams message being reported, a file's name, a row of an imported register):

- **Live links.** Teams renders a TextBlock's text and a Fact's title and value as Markdown, and turns bare web
  addresses, ``www.`` names and e-mail addresses into links. A Markdown link ``[a](b)`` or ``<…>`` would be a link
  too, with text that need not match where it goes.
- **Invisible characters.** Unicode "format" characters draw nothing but change what is drawn: ``holiday``, the
  right-to-left override U+202E, then ``gpj.exe`` reads ``holidayexe.jpg``; zero-width characters make two
  different names look the same.

So every piece of such text goes through ``escape_markdown`` (re-exported by ``cards.base``) before it enters a
card, and the card models in ``cards.base`` run the bot's own text through ``inert_markdown`` / ``inert_plain``
as well, so a card that forgets cannot let a link or a hidden character through (only Markdown emphasis in
forgotten user text would still render).

How text is shown (the choices, for a reader of a card):

- **Links are broken, readably** (the convention of security notices, which no client links):
  ``https://evil.example/x`` → ``https[:]//evil[.]example/x``; ``www.evil.example`` → ``www[.]evil[.]example``;
  ``jo@evil.example`` → ``jo[@]evil[.]example``; ``javascript:alert(1)`` / ``mailto:…`` → ``javascript[:]…``.
  Any ``scheme://``, the schemes that need no ``//``, and every dotted name ending in a word of two or more letters
  (a possible domain: ``evil.zip``, ``notes.md``) are broken; a file name ending in a common file type that is no
  domain (``photo.jpg``, ``minutes.docx``) keeps its last dot. Markdown links, ``<…>`` and HTML entities are
  escaped, so they show as typed.
- **Invisible characters are removed and a visible marker stands where they were**, naming them: the spoof
  above shows ``holiday[U+202E]gpj[.]exe``. This covers every Unicode format character (category Cf: the
  bidirectional controls U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C, the zero-width characters
  U+200B–U+200D, U+2060, U+FEFF, soft hyphens, tag characters …) and lone surrogates. One marker per run names up
  to three of them. A reader sees that something was hidden there, and what.
- **Other control characters** (C0, DEL, C1) are removed. Line breaks and tabs stay in free text (descriptions,
  comments, notes); names and other one-line values (``one_line=True``) get a space instead.

The one link a card may carry is the incident's own link field, as an ``Action.OpenUrl`` in the view for people
who may see the report's details, and only when ``live_link`` accepts it (http or https, nothing hidden).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Unicode format characters (category Cf, as of Unicode 15.1; unassigned neighbours in the same blocks included) and
# the surrogates, which no real text contains. tests/cards/test_text.py checks this covers the running Python's Cf.
_INVISIBLE_RANGES = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f\ud800-\udfff"
)
_INVISIBLE = re.compile(f"[{_INVISIBLE_RANGES}]+")
_MARKED_PER_RUN = 3  # a marker names at most this many different characters, then "…"
_LINE_BREAK = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # C0 but tab and line breaks, DEL, C1 (NEL is a break)
_ONE_LINE = re.compile(r"[ \u00a0]*[\n\t][\s]*")
_SUSPECT = re.compile(f"[{_INVISIBLE_RANGES}\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")

# A colon that could start a link: before "//" (https://, ftp://, any-app://), or after one of the schemes that work
# without "//" (the scheme is read backwards from the colon, ``_scheme_before``).
_COLON = re.compile(r":(?=//|[^\s:])")
_BARE_SCHEME = re.compile(
    r"(?:^|[.+\-])(?:mailto|javascript|vbscript|livescript|data|file|tel|sms|callto|sip|sips|skype|msteams)$"
    r"|ms-[a-z0-9\-]*$"
)
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_MAX_SCHEME = 64
_WWW = re.compile(r"(?<!\w)www\d{0,3}\.", re.IGNORECASE)  # "www." starts a link in some clients on its own
# A dotted name ending in a word of letters: a possible domain. It starts at a word's start, not inside a name
# already being read (that keeps the search linear on "a.a.a.a…").
_HOST = re.compile(r"(?<![\w\-])(?<![\w\-]\.)(?:[\w\-]+\.)+[^\W\d_]{2,63}(?!\w)")
_HOST_HINT = re.compile(r"\.(?=[^\W\d_]{2})(?<=[\w\-]\.)")  # quick: is there a dot inside "word.word" at all
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?!\w)")
_IPV4_HINT = re.compile(r"\.(?=\d)(?<=\d\.)")
_AT = re.compile(r"(?<=[\w.+\-])@")  # broken when a domain follows: an e-mail address
# File types that are no top-level domain: "photo.jpg" keeps its dot ("clip.mov", "notes.zip" do not: .mov, .zip
# are domains).
_FILE_TYPES = frozenset(
    "jpg jpeg png gif heic heif webp bmp tif tiff svg pdf doc docx xls xlsx csv txt ppt pptx odt ods odp rtf "
    "wav aac avi wmv html htm json xml eml msg".split()
)
_MARKDOWN_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")  # a backslash before ASCII punctuation: CommonMark's escape

# Markdown that Teams would render: escape it with a backslash (CommonMark escapes). An "&" is escaped where it starts
# an HTML entity, which would turn "&#x202E;" back into the character. At a line's start, a number and a full stop
# would start a list and "=" underline a heading.
_MARKDOWN_SPECIALS = re.compile(r"[\\`*_\[\]()#+\-!>|~<]|&(?=#?[0-9A-Za-z]+;)")
_LINE_START = re.compile(r"^([ \t]*\d+)\.|^([ \t]*)=", re.MULTILINE)
# In text the bot composed (Markdown on purpose): any "[", "]", "<" or entity-starting "&" not already escaped. The
# bot's own Markdown uses emphasis and lists, never links, autolinks, HTML or entities.
_UNESCAPED_LINK_SYNTAX = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]<]|&(?=#?[0-9A-Za-z]+;))")

_LINK_SCHEMES = frozenset({"http", "https"})
MAX_LINK_SHOWN = 2_000  # a longer address is shown as text, never as a link


def _marker(run: re.Match[str]) -> str:
    names = [f"U+{ord(char):04X}" for char in dict.fromkeys(run.group())]
    more = " …" if len(names) > _MARKED_PER_RUN else ""
    return "[" + " ".join(names[:_MARKED_PER_RUN]) + more + "]"


def visible_controls(text: str, *, one_line: bool = False) -> str:
    """Invisible characters replaced by a visible marker, other control characters removed.

    Args:
        one_line: a name or other one-line value: line breaks and tabs become a space.
    """
    if text.isprintable() or (_SUSPECT.search(text) is None and not (one_line and ("\n" in text or "\t" in text))):
        return text
    text = _INVISIBLE.sub(_marker, text)
    text = _CONTROL.sub("", _LINE_BREAK.sub("\n", text))
    return _ONE_LINE.sub(" ", text) if one_line else text


def _scheme_before(text: str, colon: int) -> str:
    start = colon
    while start > 0 and colon - start < _MAX_SCHEME and text[start - 1] in _SCHEME_CHARS:
        start -= 1
    return text[start:colon].lower()


def _link_marks(text: str) -> set[int]:
    """Where a character must be put in brackets so that nothing in ``text`` can become a link."""
    marks: set[int] = set()
    if ":" in text:
        for match in _COLON.finditer(text):
            colon = match.start()
            if text.startswith("//", colon + 1) or _BARE_SCHEME.search(_scheme_before(text, colon)):
                marks.add(colon)
    if "www" in text.lower():
        marks.update(match.end() - 1 for match in _WWW.finditer(text))
    hosts_at: set[int] = set()
    if _HOST_HINT.search(text):
        for match in _HOST.finditer(text):
            hosts_at.add(match.start())
            dots = [index for index in range(match.start(), match.end()) if text[index] == "."]
            if match.group().rpartition(".")[2].lower() in _FILE_TYPES:
                dots.pop()
            marks.update(dots)
    if _IPV4_HINT.search(text):
        for match in _IPV4.finditer(text):
            marks.update(index for index in range(match.start(), match.end()) if text[index] == ".")
    if hosts_at and "@" in text:
        marks.update(match.start() for match in _AT.finditer(text) if match.end() in hosts_at)
    return marks


def _bracket(text: str, marks: set[int]) -> str:
    if not marks:
        return text
    parts: list[str] = []
    done = 0
    for index in sorted(marks):
        parts += [text[done:index], "[", text[index], "]"]
        done = index + 1
    parts.append(text[done:])
    return "".join(parts)


def break_links(text: str) -> str:
    """Every web address, domain, e-mail address and link scheme broken so that no client makes it a link, and
    still readable: ``https://evil.example/x`` → ``https[:]//evil[.]example/x``."""
    if "." not in text and ":" not in text:
        return text
    return _bracket(text, _link_marks(text))


def _break_links_as_shown(markdown: str) -> str:
    """``break_links`` for Markdown, judged on the text as it is shown (``evil\\.com`` shows ``evil.com``)."""
    if "\\" not in markdown:
        return break_links(markdown)
    shown: list[str] = []
    source: list[int] = []  # where each shown character is in the Markdown
    index = 0
    for escape in _MARKDOWN_ESCAPE.finditer(markdown):
        shown.append(markdown[index : escape.start()])
        source.extend(range(index, escape.start()))
        shown.append(markdown[escape.start() + 1])
        source.append(escape.start() + 1)
        index = escape.end()
    shown.append(markdown[index:])
    source.extend(range(index, len(markdown)))
    return _bracket(markdown, {source[mark] for mark in _link_marks("".join(shown))})


def _backslashed(match: re.Match[str]) -> str:
    return "\\" + match.group()


def _backslashed_line_start(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1) + "\\."
    return match.group(2) + "\\="


def _backslashed_last(match: re.Match[str]) -> str:
    return match.group(1) + "\\" + match.group(2)


def escape_markdown(text: str, *, one_line: bool = False) -> str:
    """Make text someone else wrote inert for a TextBlock or a Fact: the one way such text enters a card.

    Invisible characters are replaced by a visible marker and other control characters removed
    (``visible_controls``), links broken (``break_links``), then each Markdown control character escaped with a
    backslash, so no link, emphasis, heading, list or HTML entity is rendered. A person reads what was typed.

    Args:
        one_line: a name, title, file name or reference: line breaks and tabs become a space.
    """
    text = _MARKDOWN_SPECIALS.sub(_backslashed, break_links(visible_controls(text, one_line=one_line)))
    return _LINE_START.sub(_backslashed_line_start, text) if _LINE_START.search(text) else text


def inert_markdown(markdown: str) -> str:
    """What a Markdown field of a card model (TextBlock text, Fact title and value) keeps of the bot's own text:
    its emphasis and lists, but no hidden character, no live address, no link, autolink, HTML or entity. Text that
    went through ``escape_markdown`` is unchanged."""
    markdown = _break_links_as_shown(visible_controls(markdown))
    if "[" in markdown or "]" in markdown or "<" in markdown or "&" in markdown:  # quick: often none
        markdown = _UNESCAPED_LINK_SYNTAX.sub(_backslashed_last, markdown)
    return markdown


def inert_plain(text: str, *, one_line: bool = False) -> str:
    """What a plain-text field of a card model (a choice, a label, a button's title, the fallback text) keeps: no
    hidden character and no live address. Plain text needs no Markdown escapes.

    Args:
        one_line: a field Teams shows as one line (all but a placeholder): line breaks and tabs become a space.
    """
    return break_links(visible_controls(text, one_line=one_line))


def live_link(address: str) -> str | None:
    """The address, if it may be shown as a link (to the people allowed to see it): http or https, a host, no user
    name or password before the host (``https://school.example@evil.example``), no space, control or hidden
    character, and not too long. None: show it as text (``escape_markdown``)."""
    if not address or len(address) > MAX_LINK_SHOWN or not address.isascii() or not address.isprintable():
        return None
    if any(char.isspace() for char in address):
        return None
    try:
        parts = urlsplit(address)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme.lower() not in _LINK_SCHEMES or not host or "@" in parts.netloc:
        return None
    return address
