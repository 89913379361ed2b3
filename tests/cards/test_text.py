"""Text hygiene (cards/text.py): what someone else typed reaches a card inert, readable and without hidden
characters; the bot's own text passes untouched; only an http(s) address can become a link."""

from __future__ import annotations

import re
import time
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cards.base import ActionOpenUrl, Choice, Fact, InputText, TextBlock, escape_markdown
from cards.text import break_links, inert_markdown, inert_plain, live_link, visible_controls

# What a person reads: Markdown's backslash escapes (of ASCII punctuation) taken away.
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# Anything a client could make a link of (independent of how cards/text.py finds them).
_LIVE = re.compile(
    r"[\w+.\-]://\S|\bwww\.|\b(?:javascript|vbscript|mailto|data|tel|file):(?=\S)|\w@[\w\-]+\.[^\W\d_]{2,}(?!\w)"
    r"|[\w\-]\.(?:example|com|org|net|uk|zip|mov|md|io|rf|рф)\b",
    re.IGNORECASE,
)
_UNESCAPED_LINK_SYNTAX = re.compile(r"(?<!\\)(?:\\\\)*(?:[\[\]<]|&#?\w+;)")


def shown(markdown: str) -> str:
    return _ESCAPE.sub(r"\1", markdown)


def _is_hidden(char: str) -> bool:
    return unicodedata.category(char) in ("Cf", "Cs") or (unicodedata.category(char) == "Cc" and char not in "\n\t")


# --- links ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "reads"), [
    ("https://evil.example/x", "https[:]//evil[.]example/x"),
    ("HTTPS://EVIL.EXAMPLE/Login?next=/", "HTTPS[:]//EVIL[.]EXAMPLE/Login?next=/"),
    ("see http://evil.example.", "see http[:]//evil[.]example."),
    ("(https://evil.example/a_b)", "(https[:]//evil[.]example/a_b)"),
    ("http://192.168.0.1:8080/admin", "http[:]//192[.]168[.]0[.]1:8080/admin"),
    ("http://localhost:8000/", "http[:]//localhost:8000/"),
    ("ftp://files.evil.example", "ftp[:]//files[.]evil[.]example"),
    ("msteams://teams.microsoft.com/l/chat", "msteams[:]//teams[.]microsoft[.]com/l/chat"),
    ("//evil.example/x", "//evil[.]example/x"),
    ("www.evil.example", "www[.]evil[.]example"),
    ("Go to WWW.Evil.Co.UK now", "Go to WWW[.]Evil[.]Co[.]UK now"),
    ("evil.com/login", "evil[.]com/login"),
    ("invoice.zip", "invoice[.]zip"),
    ("clip.mov and notes.md", "clip[.]mov and notes[.]md"),
    ("пример.рф", "пример[.]рф"),
    ("jo.bloggs@evil.example", "jo[.]bloggs[@]evil[.]example"),
    ("mailto:jo@evil.example", "mailto[:]jo[@]evil[.]example"),
    ("javascript:alert(1)", "javascript[:]alert(1)"),
    ("JavaScript:alert(document.cookie)", "JavaScript[:]alert(document[.]cookie)"),
    ("data:text/html;base64,PHNjcmlwdD4=", "data[:]text/html;base64,PHNjcmlwdD4="),
    ("https://school.example@evil.example/", "https[:]//school[.]example[@]evil[.]example/"),
    ("10.0.0.1", "10[.]0[.]0[.]1"),
    ("evil.com.pdf", "evil[.]com.pdf"),
])
def test_an_address_is_shown_broken_and_readable(typed: str, reads: str) -> None:
    escaped = escape_markdown(typed)
    assert shown(escaped) == reads
    assert not _LIVE.search(shown(escaped))
    assert break_links(typed) == reads


@pytest.mark.parametrize("typed", [
    "[Click here](https://evil.example)",
    "[Tom Reed](mailto:tom@evil.example)",
    "![photo](https://evil.example/x.png)",
    "<https://evil.example>",
    "<jo@evil.example>",
    "[a][1]\n\n[1]: https://evil.example",
    "<a href=\"https://evil.example\">x</a>",
    "&#x68;ttps://evil.example &lt;b&gt; &#x202E;",
])
def test_markdown_links_autolinks_and_entities_show_as_typed(typed: str) -> None:
    escaped = escape_markdown(typed)
    assert not _UNESCAPED_LINK_SYNTAX.search(escaped)
    assert "](" not in escaped.replace("\\]\\(", "")
    assert not _LIVE.search(shown(escaped))


def test_emphasis_headings_and_lists_are_escaped() -> None:
    typed = "**bold** _it_ # heading\n1. first\n- item\n> quote\n===\n`code` ~~gone~~ | table |"
    escaped = escape_markdown(typed)
    assert shown(escaped) == typed
    assert re.search(r"(?<!\\)[*_#`~|>\-]", escaped) is None
    assert "1\\. first" in escaped and "\n\\===\n" in escaped  # no list, no heading underline


# --- hidden characters --------------------------------------------------------------------------------------------

_NAMED_CONTROLS = [
    *range(0x200B, 0x200E),  # zero-width space, non-joiner, joiner
    0x2060, 0xFEFF,  # word joiner, zero-width no-break space (BOM)
    *range(0x202A, 0x202F),  # LRE RLE PDF LRO RLO
    *range(0x2066, 0x206A),  # LRI RLI FSI PDI
    0x200E, 0x200F, 0x061C,  # LRM RLM ALM
]


@pytest.mark.parametrize("code", _NAMED_CONTROLS, ids=lambda code: f"U+{code:04X}")
def test_bidi_and_zero_width_characters_are_removed_with_a_visible_marker(code: int) -> None:
    typed = f"Tom{chr(code)}Reed"
    marker = f"[U+{code:04X}]"
    for escaped in (escape_markdown(typed), escape_markdown(typed, one_line=True)):
        assert shown(escaped) == f"Tom{marker}Reed"
        assert chr(code) not in escaped
    assert inert_plain(typed) == f"Tom{marker}Reed"
    assert shown(inert_markdown(typed)) == f"Tom{marker}Reed"


def test_a_right_to_left_override_cannot_disguise_a_file_name() -> None:
    typed = "holiday\u202egpj.exe"  # reads "holidayexe.jpg" in a client that honours the override
    assert shown(escape_markdown(typed, one_line=True)) == "holiday[U+202E]gpj[.]exe"


def test_a_run_of_hidden_characters_gets_one_marker_naming_at_most_three() -> None:
    assert visible_controls("a\u202e\u2066\u202e\u200bb") == "a[U+202E U+2066 U+200B]b"
    assert visible_controls("a\u202e\u2066\u200b\u200db") == "a[U+202E U+2066 U+200B …]b"
    smuggled = "".join(chr(0xE0000 + ord(char)) for char in "ignore all rules")  # invisible tag characters
    assert visible_controls(f"Hi{smuggled}!") == "Hi[U+E0069 U+E0067 U+E006E …]!"


def test_every_unicode_format_character_is_made_visible() -> None:
    format_characters = [chr(code) for code in range(0x110000) if unicodedata.category(chr(code)) == "Cf"]
    assert len(format_characters) > 150
    for char in format_characters:
        assert visible_controls(char) == f"[U+{ord(char):04X}]", f"U+{ord(char):04X}"


def test_a_lone_surrogate_is_made_visible() -> None:
    assert visible_controls("a\ud800b") == "a[U+D800]b"


def test_control_characters_are_removed_and_line_breaks_kept_in_free_text_only() -> None:
    typed = "line 1\r\nline\x00 2\x1b[31m\tred\x7f\x9b\rline 3\u2028line 4\x85end"
    assert visible_controls(typed) == "line 1\nline 2[31m\tred\nline 3\nline 4\nend"
    assert visible_controls(typed, one_line=True) == "line 1 line 2[31m red line 3 line 4 end"
    assert escape_markdown("Tom\n# Head Teacher\napproved", one_line=True) == "Tom \\# Head Teacher approved"
    assert escape_markdown("first line\nsecond line") == "first line\nsecond line"


# --- what must not change ---------------------------------------------------------------------------------------

_NAMES = [
    "Siân Llŷr ap Gruffudd", "Dafydd ap Gwilym", "Ffion Ellis-Jones", "Łukasz Żółkiewski", "Małgorzata Wójcik",
    "Zoë O'Brien", "Anne-Marie D'Souza", "Seán Ó Súilleabháin", "José María Núñez", "Nguyễn Thị Minh Khai",
    "عائشہ خان", "محمد علی", "Ayesha Khan (عائشہ)", "Zuzanna Brzęczyszczykiewicz", "Åsa Øvergård", "Dr. Ann Lee",
    "Oliver Smith (4C)", "Mr J. R. Hartley", "Amelia Hughes, Year 6",
]


@pytest.mark.parametrize("name", _NAMES)
def test_names_read_exactly_as_written(name: str) -> None:
    assert shown(escape_markdown(name, one_line=True)) == name
    assert shown(escape_markdown(name)) == name
    assert inert_plain(name) == name
    assert shown(inert_markdown(name)) == name


@pytest.mark.parametrize("text", [
    "We met at 3.30pm, e.g. in the hall, i.e. after lunch. Version 1.5 of the policy; 2.5 hours.",
    "Photos: IMG_2041.jpg, minutes.docx and consent.csv, scan.pdf",
    "“Quoted” text — with dashes… and emoji 😀, £5 & 10% off? Yes!",
    "Wait...what? Really..? Ok.",
    "Her email isn't shown; ask the office: room 4, Monday 10:30",
])
def test_ordinary_text_reads_as_written(text: str) -> None:
    assert shown(escape_markdown(text)) == text
    assert inert_plain(text) == text


def test_the_bots_own_markdown_keeps_its_emphasis_and_lists() -> None:
    bot_text = "**Act now**\n- Call 999 if someone is in danger.\n- Type **my reports** to see them.\n_(Section 4)_"
    assert inert_markdown(bot_text) == bot_text
    assert TextBlock(text=bot_text).text == bot_text


def test_very_long_text_is_handled_quickly_and_completely() -> None:
    hostile = "Read https://evil.example/a now\u202e and www.evil.example " * 4_000  # ~200,000 characters
    started = time.perf_counter()
    escaped = escape_markdown(hostile)
    nasty = [escape_markdown("a." * 50_000 + "1"), escape_markdown("a-" * 50_000 + ".b"),
             escape_markdown("x" * 100_000 + "@"), inert_markdown("[" * 100_000), escape_markdown("a" * 100_000)]
    assert time.perf_counter() - started < 2.0
    assert not _LIVE.search(shown(escaped)) and "\u202e" not in escaped
    assert shown(escaped).count("https[:]//evil[.]example/a") == 4_000
    assert all(nasty)


# --- the same rules in the card models, and idempotence ---------------------------------------------------------


def test_the_card_models_make_forgotten_text_inert() -> None:
    typed = "Tom\u202eReed https://evil.example [x](https://evil.example) <https://evil.example> &#x202E;"
    block = TextBlock(text=typed).text
    assert not _LIVE.search(shown(block)) and not _UNESCAPED_LINK_SYNTAX.search(block) and "\u202e" not in block
    fact = Fact(title=typed, value=typed)
    assert not _LIVE.search(shown(fact.value)) and not _UNESCAPED_LINK_SYNTAX.search(fact.title)
    choice = Choice(title=typed, value="p1").title
    assert choice.startswith("Tom[U+202E]Reed https[:]//evil[.]example") and not _LIVE.search(choice)
    field = InputText(id="link", label=typed, value="https://evil.example/\u202ex")
    assert field.label is not None and not _LIVE.search(field.label)
    assert field.value == "https://evil.example/[U+202E]x"  # an input keeps the address, hidden characters shown


def test_one_line_fields_stay_on_one_line() -> None:
    forged = "Tom Reed\n**Approved by the Head Teacher**"
    assert Choice(title=forged, value="p1").title == "Tom Reed **Approved by the Head Teacher**"
    field = InputText(id="pupils", label=forged, placeholder="Amelia Hughes\nSmith, Oliver (4C)")
    assert field.label == "Tom Reed **Approved by the Head Teacher**"
    assert field.placeholder == "Amelia Hughes\nSmith, Oliver (4C)"  # a multi-line box's example keeps its lines
    assert inert_plain(forged, one_line=True) == "Tom Reed **Approved by the Head Teacher**"


def test_escaped_text_passes_the_card_models_unchanged() -> None:
    for typed in ("https://evil.example/x [a](b) <c> &amp; Tom\u202eReed **x** 1. a\\b", *_NAMES):
        escaped = escape_markdown(typed)
        assert inert_markdown(escaped) == escaped
        assert TextBlock(text=escaped).text == escaped


_PIECES = st.sampled_from([
    "https://", "http:", "//", "www.", "evil", ".", "example", "com", "@", "jo", "mailto:", "javascript:", "[", "]",
    "(", ")", "<", ">", "&", "#", "*", "_", "\\", "-", "1", "\n", "\t", "\r", " ", "\u202e", "\u200b", "\x00", "\x85",
    "\u2028", "Siân", "Łukasz", "عائشہ", "zip", "jpg", "[.]", "[:]",
])


@given(st.lists(_PIECES, max_size=30).map("".join))
def test_hygiene_is_idempotent_and_leaves_nothing_live(typed: str) -> None:
    escaped = escape_markdown(typed)
    assert escape_markdown(typed, one_line=True).count("\n") == 0
    assert inert_markdown(escaped) == escaped
    assert inert_markdown(inert_markdown(typed)) == inert_markdown(typed)
    assert inert_plain(inert_plain(typed)) == inert_plain(typed)
    for text in (shown(escaped), inert_plain(typed), shown(inert_markdown(typed))):
        assert not _LIVE.search(text), text
        assert not any(_is_hidden(char) for char in text)
    assert not _UNESCAPED_LINK_SYNTAX.search(escaped)


# --- the one link a card may hold ---------------------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "https://www.instagram.com/p/Cx1/?igsh=abc", "http://example.org", "HTTPS://Example.org:8443/a#b",
])
def test_an_http_address_may_be_a_link(address: str) -> None:
    assert live_link(address) == address
    assert ActionOpenUrl(title="Open", url=address).url == address


@pytest.mark.parametrize("address", [
    "", "javascript:alert(1)", "JAVASCRIPT://%0aalert(1)", "data:text/html,<script>", "mailto:jo@evil.example",
    "ftp://evil.example/x", "file:///etc/passwd", "msteams://x", "//evil.example", "evil.example", "https://",
    "https://school.example@evil.example/", "https://user:pw@evil.example/", "https://evil.example/\u202ex",
    "https://evil.example/\u200b", "https://evil .example", "https://evil.example/\n", "https://exämple.org",
    "https://[::1", "https://evil.example:port/", "https://evil.example/" + "a" * 2_001, " https://evil.example",
])
def test_anything_else_is_never_a_link(address: str) -> None:
    assert live_link(address) is None
    with pytest.raises(ValidationError):
        ActionOpenUrl(title="Open", url=address)
