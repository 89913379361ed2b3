"""The governors' termly report as a PDF (fpdf2, pure Python, in memory): the dashboard's figures as charts (bars and
donuts drawn with fpdf2's own drawing primitives) and tables, the policy's approval and next review dates, and a
summary of change against the previous term built from the figures alone. No personal data: no names, no
references, no free text of any record; every count has passed the small-number rule (``domain/dashboard.py``).

The core PDF fonts hold Latin-1 only, so every string goes through ``_latin`` (a character outside it becomes ``?``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from fpdf import FPDF

from domain.dashboard import SUPPRESSION_NOTE, Chart, ChartKind, Section

_PALETTE = ((31, 78, 121), (84, 130, 53), (191, 144, 0), (192, 80, 77), (112, 48, 160), (46, 117, 182),
            (127, 127, 127), (0, 128, 128), (197, 90, 17), (68, 84, 106))
_TEXT_WIDTH = 180.0  # A4 210 mm minus 15 mm margins


@dataclass(frozen=True)
class ReportMeta:
    school_name: str
    period_title: str
    previous_title: str
    generated_at: str  # in the school's time, e.g. "Sun 6 Dec 2026, 09:41"
    reference: str
    policy_approved_on: date | None
    policy_review_due: date | None


def _latin(text: str) -> str:
    replaced = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u2019", "'").replace("\u2018", "'")
    return replaced.replace("\u201c", '"').replace("\u201d", '"').encode("latin-1", "replace").decode("latin-1")


def _date(value: date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else "not recorded"


class _Report(FPDF):
    def __init__(self, meta: ReportMeta) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.meta = meta
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_creator("Policy Bot")
        self.set_title(_latin(f"Social media: report to governors, {meta.period_title}"))
        self.set_creation_date(datetime(2000, 1, 1))  # no clock in the file's metadata: the page says when

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, _latin(f"{self.meta.reference}  |  no personal data  |  page {self.page_no()}"), align="C")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, size: int = 13) -> None:
        self.set_font("Helvetica", style="B", size=size)
        self.multi_cell(0, 7, _latin(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=10)

    def para(self, text: str, size: int = 10, italic: bool = False) -> None:
        self.set_font("Helvetica", style="I" if italic else "", size=size)
        self.multi_cell(0, 5, _latin(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=10)

    def rows(self, rows: Sequence[tuple[str, str]]) -> None:
        if not rows:
            return
        self.set_font("Helvetica", size=9)
        self.set_fill_color(255, 255, 255)  # a chart's last colour must not fill the table
        self.set_draw_color(0, 0, 0)
        with self.table(col_widths=(120, 60), text_align=("LEFT", "RIGHT"), first_row_as_headings=False,
                        line_height=5.5) as table:
            for label, value in rows:
                row = table.row()
                row.cell(_latin(label))
                row.cell(_latin(value))
        self.ln(2)
        self.set_font("Helvetica", size=10)

    def bars(self, chart: Chart) -> None:
        points = chart.points
        if not points:
            return
        height = 42.0
        self._room(height + 26)
        top = self.get_y() + 6  # room for the tallest bar's value under the heading
        left = self.l_margin + 10
        width = _TEXT_WIDTH - 10
        most = max(value for _, value in points) or 1
        slot = width / len(points)
        bar = min(slot * 0.6, 18)
        self.set_font("Helvetica", size=7)
        self.set_draw_color(150, 150, 150)
        self.line(left, top + height, left + width, top + height)
        for index, (label, value) in enumerate(points):
            colour = _PALETTE[index % len(_PALETTE)]
            self.set_fill_color(*colour)
            h = height * value / most
            x = left + index * slot + (slot - bar) / 2
            self.rect(x, top + height - h, bar, h, style="F")
            self.set_xy(x - 4, top + height - h - 4)
            self.cell(bar + 8, 4, str(value), align="C")
            self.set_xy(left + index * slot, top + height + 1)
            self.multi_cell(slot, 3, _latin(label[:40]), align="C")
        self.set_y(top + height + 16)
        self.set_font("Helvetica", size=10)

    def donut(self, chart: Chart) -> None:
        points = [(label, value) for label, value in chart.points if value > 0]
        total = sum(value for _, value in points)
        if not total:
            return
        size = 36.0
        self._room(size + 8)
        top = self.get_y() + 2
        x = self.l_margin + 10
        start = 0.0
        for index, (label, value) in enumerate(points):
            end = start + 360.0 * value / total
            self.set_fill_color(*_PALETTE[index % len(_PALETTE)])
            self.set_draw_color(255, 255, 255)
            if math.isclose(end - start, 360.0):
                self.ellipse(x, top, size, size, style="F")
            else:
                self.solid_arc(x, top, size, start, end, style="F")
            self.set_xy(x + size + 10, top + 4 + index * 6)
            self.rect(x + size + 4, top + 5 + index * 6, 4, 4, style="F")
            self.set_font("Helvetica", size=9)
            self.cell(80, 6, _latin(f"{label}: {value}"))
            start = end
        self.set_fill_color(255, 255, 255)
        hole = size * 0.55
        self.ellipse(x + (size - hole) / 2, top + (size - hole) / 2, hole, hole, style="F")
        self.set_draw_color(0, 0, 0)
        self.set_y(top + size + 6)
        self.set_font("Helvetica", size=10)

    def _room(self, needed: float) -> None:
        if self.get_y() + needed > self.h - self.b_margin:
            self.add_page()


def governors_pdf(meta: ReportMeta, sections: Sequence[Section], summary: Sequence[str]) -> bytes:
    """The report's bytes."""
    pdf = _Report(meta)
    pdf.add_page()
    pdf.heading(f"{meta.school_name}", size=15)
    pdf.heading(f"Social media policy: report to the governing body, {meta.period_title}")
    pdf.para(f"Generated {meta.generated_at} by Policy Bot. Reference {meta.reference}.", size=9, italic=True)
    pdf.ln(2)
    pdf.heading("The policy", size=12)
    pdf.rows([("Social media policy approved", _date(meta.policy_approved_on)),
              ("Next review due", _date(meta.policy_review_due))])
    pdf.heading(f"Summary: {meta.period_title} against {meta.previous_title}", size=12)
    for line in summary:
        pdf.para(f"- {line}")
    pdf.ln(2)
    for section in sections:
        pdf._room(30)
        pdf.heading(section.title, size=12)
        if section.chart is not None and section.chart.points:
            if section.chart.kind is ChartKind.DONUT:
                pdf.donut(section.chart)
            else:
                pdf.bars(section.chart)
        pdf.rows([*section.rows, *section.facts])
        if section.note:
            pdf.para(section.note, size=8, italic=True)
    pdf.ln(2)
    pdf.para(SUPPRESSION_NOTE, size=8, italic=True)
    pdf.para("Figures are counted by the bot from its own records. Restricted categories (safeguarding concerns, "
             "allegations about staff) appear only as one combined count; a concern about the Head Teacher is the "
             "Chair of Governors' alone and is not in this report.", size=8, italic=True)
    return bytes(pdf.output())
