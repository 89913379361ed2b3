"""A report's safeguarding record as a PDF, for the school's safeguarding system (CPOMS, MyConcern ...).

One readable document (fpdf2): the reference, category, when it was received and by whom, the reporter's account
verbatim (the facts), the child's own words, the reporter's view (kept apart from the facts), the pupils, every
chronology entry with who, when, what and why (decisions and their reasons), the referrals with their outcomes, and
the transfer. Text a person typed is written as text: a PDF has no Markdown to escape and no links are made.

The font is DejaVu Sans when the system has it (accents and most scripts staff type); else the PDF core font
Helvetica. A character the font cannot show (an emoji) is replaced by "?" and the document says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont

from cards.incidents import FullReport
from domain.calendar import SchoolCalendar
from domain.incidents import (
    ACTION_TAKEN_TITLES,
    DSL_TOLD_TITLES,
    OUTCOME_TITLES,
    ROUTING,
    STATUS_TITLES,
    URGENCY_TITLES,
    ChronologyEntry,
)

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
              Path("/usr/local/share/fonts"), Path("/Library/Fonts"), Path("C:/Windows/Fonts"))
_REGULAR, _BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
_MARGIN_MM = 18
_CORE_FONT = "Helvetica"


def _font_files() -> tuple[Path, Path] | None:
    for folder in _FONT_DIRS:
        regular, bold = folder / _REGULAR, folder / _BOLD
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


class _Document(FPDF):
    def __init__(self, reference: str, exported: str) -> None:
        super().__init__(format="A4")
        self._reference = reference
        self._exported = exported
        self.replaced = False
        self._glyphs: frozenset[int] = frozenset()
        fonts = _font_files()
        if fonts is not None:
            self.add_font("Record", "", str(fonts[0]))
            self.add_font("Record", "B", str(fonts[1]))
            self.family = "Record"
            self.unicode = True
            font = self.fonts["record"]
            self._glyphs = frozenset(font.cmap) if isinstance(font, TTFFont) else frozenset()
        else:
            self.family = _CORE_FONT
            self.unicode = False
        self.set_margins(_MARGIN_MM, _MARGIN_MM, _MARGIN_MM)
        self.set_auto_page_break(True, _MARGIN_MM)
        self.set_title(f"Safeguarding record {reference}")
        self.set_creator("Policy Bot")

    def text_of(self, text: str) -> str:
        if self.unicode:
            fitted = "".join(ch if ch in "\n\t" or ord(ch) in self._glyphs else "?" for ch in text)
            self.replaced |= fitted != text
            return fitted
        fitted = text.encode("latin-1", "replace").decode("latin-1")
        self.replaced |= fitted != text
        return fitted

    def header(self) -> None:
        self.set_font(self.family, "", 8)
        self.cell(0, 5, self.text_of(f"{self._reference} · Safeguarding record · RESTRICTED: the DSL and the people "
                                     "the policy names only"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.cell(0, 5, self.text_of(f"{self._exported} · page {self.page_no()}/{{nb}}"), align="C")

    def heading(self, text: str, size: int = 12) -> None:
        self.ln(3)
        self.set_font(self.family, "B", size)
        self.multi_cell(0, size * 0.5, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def para(self, text: str, *, bold: bool = False, size: int = 10) -> None:
        self.set_font(self.family, "B" if bold else "", size)
        self.multi_cell(0, 5, self.text_of(text or "-"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def fact(self, title: str, value: str) -> None:
        self.set_font(self.family, "B", 10)
        self.cell(45, 5, self.text_of(title))
        self.set_font(self.family, "", 10)
        self.multi_cell(0, 5, self.text_of(value or "-"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _time(moment: datetime, calendar: SchoolCalendar) -> str:
    return calendar.local(moment).strftime("%a %d %b %Y, %H:%M")


def record_pdf(report: FullReport, *, calendar: SchoolCalendar, exported_by: str, exported_at: datetime) -> bytes:
    """The report's safeguarding record as PDF bytes."""
    exported = f"Exported {_time(exported_at, calendar)} by {exported_by}"
    pdf = _Document(report.reference, exported)
    pdf.alias_nb_pages()
    pdf.add_page()
    rule = ROUTING[report.category]
    pdf.heading(f"Safeguarding record {report.reference}", 16)
    pdf.para(f"{rule.title}", bold=True, size=11)
    pdf.ln(2)
    pdf.fact("Reference", report.reference)
    pdf.fact("Category", rule.title)
    pdf.fact("Urgency", URGENCY_TITLES[report.urgency])
    pdf.fact("Status", STATUS_TITLES[report.status])
    pdf.fact("Received", _time(report.received_at, calendar))
    pdf.fact("Reported by", report.reporter_name)
    pdf.fact("Immediate risk", "Yes" if report.immediate_risk else "No")
    if report.dsl_told is not None:
        pdf.fact("DSL told verbally", DSL_TOLD_TITLES[report.dsl_told])
    when = ", ".join(p for p in (report.when_date.strftime("%a %d %b %Y") if report.when_date else "",
                                 report.when_detail) if p)
    pdf.fact("When it happened", when or "Not given")
    pdf.fact("Platform", report.platform or "Not given")
    pdf.fact("Link", report.link or "None")
    pdf.fact("Lead", report.lead_name or "Nobody yet")
    if report.record.transfer is not None:
        moved = report.record.transfer
        pdf.fact("Transferred", f"{moved.label}, {_time(moved.at, calendar)}, by {moved.by}")

    pdf.heading("The reporter's account (verbatim, as sent: the facts)")
    pdf.para(report.what_happened)
    pdf.heading("The child's own words (verbatim)")
    words = report.record.statement.child_words
    pdf.para(f"“{words}”" if words else "None recorded.")
    pdf.heading("The reporter's view or concerns (opinion, kept apart from the facts)")
    pdf.para(report.record.statement.opinion or "None given.")
    pdf.heading(f"Pupils ({len(report.record.pupils)})")
    pdf.para("\n".join(f"- {p.name}" for p in report.record.pupils) or "None named.")
    pdf.heading("Others involved (as the reporter wrote it)")
    pdf.para(report.involved or "Not given.")
    pdf.heading("Already done by the reporter")
    pdf.para(", ".join(ACTION_TAKEN_TITLES[a] for a in report.actions_taken) or "Nothing.")

    pdf.heading("Referrals")
    if not report.record.referrals:
        pdf.para("None.")
    for referral in report.record.referrals:
        pdf.para(f"{referral.agency_title}: made {referral.made_on:%d %b %Y}" if referral.made_on
                 else referral.agency_title, bold=True)
        pdf.para(f"Reference: {referral.reference or 'none given'}. Recorded by {referral.by}, "
                 f"{_time(referral.at, calendar)}. Reason: {referral.reason}")
        if not referral.outcomes:
            pdf.para("Outcome: not recorded yet.")
        for outcome in referral.outcomes:
            pdf.para(f"Outcome ({_time(outcome.at, calendar)}, {outcome.by}): {outcome.outcome}")
        pdf.ln(1)

    if report.outcome_kind is not None:
        pdf.heading(f"Closed: {OUTCOME_TITLES[report.outcome_kind]}")
        pdf.para(f"Reason: {report.outcome or ''}")

    pdf.heading("Chronology: every action, decision and reason")
    _chronology(pdf, report, calendar)
    if pdf.replaced:
        pdf.ln(2)
        pdf.para("Note: characters this PDF's font cannot show were replaced by \"?\". The record in Policy Bot "
                 "holds them as typed.", size=8)
    return bytes(pdf.output())


def _chronology(pdf: _Document, report: FullReport, calendar: SchoolCalendar) -> None:
    entries: Sequence[ChronologyEntry] = report.chronology
    for entry in entries:
        pdf.para(f"{_time(entry.at, calendar)} · {entry.actor_name} · {entry.what}", bold=True, size=9)
        if entry.why:
            pdf.para(f"Reason / detail: {entry.why}", size=9)
        pdf.ln(1)
