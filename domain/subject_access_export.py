"""The subject access export's file: a zip holding ``report.html`` and ``export.json``.

HTML rather than PDF: it needs no extra library, any browser opens it, a screen reader reads it (headings, one
table per record, real text rather than a page image), and the DPO can edit a copy for redaction. Every other
person's name, Entra object id or pupil id the bot found in a record is wrapped in
``<mark class="third-party">`` in the HTML and listed under ``third_parties`` in the JSON, for the DPO's
redaction review before anything is disclosed. Every value is HTML-escaped.
"""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.subject_access import FoundRecord, Subject, ThirdParty, flatten, fold, words_pattern

REPORT_NAME = "report.html"
JSON_NAME = "export.json"
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)  # zip entries' timestamps: the same records make the same bytes


@dataclass(frozen=True)
class ExportMeta:
    reference: str  # SAR-<date>-<short id>: the file's name and the audit trail's reference
    prepared_at: datetime
    prepared_by: str


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def export_json(subject: Subject, records: Sequence[FoundRecord], meta: ExportMeta) -> dict[str, Any]:
    return {
        "reference": meta.reference,
        "prepared_at": meta.prepared_at.isoformat(),
        "prepared_by": meta.prepared_by,
        "subject": {"label": subject.label, "names": sorted(subject.names), "aad_object_ids": sorted(subject.aad_ids),
                    "pupil_ids": sorted(subject.pupil_ids)},
        "record_count": len(records),
        "records": [
            {"table": r.table, "key": r.key, "reference": r.reference, "fields": _plain(dict(r.fields)),
             "third_parties": [{"kind": t.kind, "value": t.value, "field": t.field} for t in r.third_parties]}
            for r in records
        ],
    }


def _marked(text: str, parties: Sequence[ThirdParty]) -> str:
    """``text`` escaped, with the third parties' names and ids wrapped for the redaction review."""
    spans: list[tuple[int, int]] = []
    folded = fold(text)
    same_length = len(folded) == len(text)  # folding kept positions (most text): mark names in place
    for party in parties:
        needle = words_pattern(fold(party.value))
        haystack = folded if same_length else text
        flags = 0 if same_length else re.IGNORECASE
        for match in re.finditer(rf"(?<!\w){needle}(?!\w)", haystack, flags):
            spans.append(match.span())
    out: list[str] = []
    last = 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(html.escape(text[last:start]))
        out.append(f'<mark class="third-party" title="another person: review before disclosure">'
                   f"{html.escape(text[start:end])}</mark>")
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def report_html(subject: Subject, records: Sequence[FoundRecord], meta: ExportMeta) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>", '<html lang="en-GB">', "<head>", '<meta charset="utf-8">',
        f"<title>Subject access export {e(meta.reference)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse;width:100%}"
        "th,td{border:1px solid #999;padding:.3em;text-align:left;vertical-align:top}"
        "mark.third-party{background:#ffd54f}</style>",
        "</head>", "<body>",
        f"<h1>Subject access export {e(meta.reference)}</h1>",
        f"<p>About: <strong>{e(subject.label)}</strong>. Prepared {e(meta.prepared_at.isoformat())} by "
        f"{e(meta.prepared_by)}. {len(records)} record(s).</p>",
        "<p>Highlighted text is <strong>another person's data</strong> (a name, an Entra object id or a pupil id): "
        "review it for redaction before anything is disclosed. <code>export.json</code> lists the same under "
        "<code>third_parties</code>.</p>",
        "<h2>Matched by</h2><ul>",
        *[f"<li>name: {e(n)}</li>" for n in sorted(subject.names)],
        *[f"<li>Entra object id: {e(a)}</li>" for a in sorted(subject.aad_ids)],
        *[f"<li>pupil id: {e(p)}</li>" for p in sorted(subject.pupil_ids)],
        "</ul>",
    ]
    for record in records:
        parts.append(f"<h2>{e(record.table)}: {e(record.label)}</h2>")
        if record.third_parties:
            parts.append("<p>Other people named here: "
                         + ", ".join(f'<mark class="third-party">{e(t.value)}</mark> ({e(t.kind)}, {e(t.field)})'
                                     for t in record.third_parties) + "</p>")
        parts.append("<table><thead><tr><th scope=\"col\">Field</th><th scope=\"col\">Value</th></tr></thead><tbody>")
        for name, value in record.fields.items():
            shown = "" if value is None else flatten(_plain(value))
            here = [t for t in record.third_parties if t.field == name]
            parts.append(f"<tr><th scope=\"row\">{e(name)}</th><td>{_marked(shown, here)}</td></tr>")
        parts.append("</tbody></table>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts)


def export_zip(subject: Subject, records: Sequence[FoundRecord], meta: ExportMeta) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in ((REPORT_NAME, report_html(subject, records, meta)),
                           (JSON_NAME, json.dumps(export_json(subject, records, meta), ensure_ascii=False,
                                                  indent=2))):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()
