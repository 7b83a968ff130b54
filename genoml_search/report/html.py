"""A self-contained HTML page: inline CSS, figures embedded as base64 PNG, no script, no network."""
from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
main{max-width:1120px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:26px;margin:0 0 4px} h2{font-size:19px;margin:32px 0 10px;padding-bottom:4px;border-bottom:2px solid #e4e7eb}
h3{font-size:15px;margin:18px 0 6px} p,li{font-size:14px;line-height:1.45} .muted{color:#616e7c;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{flex:1 1 160px;border:1px solid #e4e7eb;border-radius:8px;padding:10px 14px;background:#f8fafc}
.card .label{font-size:12px;color:#616e7c;text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:22px;font-weight:600;margin-top:2px} .card .sub{font-size:12px;color:#616e7c}
table{border-collapse:collapse;font-size:13px;margin:6px 0 10px;width:auto}
th,td{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top}
th{background:#f0f4f8;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:hover td{background:#fafcff} .scroll{max-height:420px;overflow:auto;border:1px solid #e4e7eb;border-radius:6px}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px;align-items:start}
figure{margin:0} figure img{max-width:100%;height:auto;border:1px solid #e4e7eb;border-radius:6px}
figcaption{font-size:12px;color:#616e7c;margin-top:3px}
.note{background:#fff8e1;border-left:4px solid #f0b429;padding:8px 12px;font-size:13px;margin:10px 0}
code{background:#f0f4f8;padding:1px 4px;border-radius:3px;font-size:12px}
nav a{margin-right:14px;font-size:13px;color:#2b6cb0;text-decoration:none}
"""


def escape(value: Any) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers with ``digits`` significant decimals; blanks for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3g}"
        return f"{value:.{digits}f}"
    return str(value)


def table(frame: pd.DataFrame, formats: dict[str, Callable[[Any], str]] | None = None,
          scroll: bool = False) -> str:
    """An HTML table of a DataFrame; numeric cells right-aligned."""
    formats = dict(formats or {})
    for column in frame.columns:  # whole-number float columns (NaN made them float) print as integers
        values = pd.to_numeric(frame[column], errors="coerce") if frame[column].dtype.kind == "f" else None
        if column not in formats and values is not None and values.notna().any() and \
                (values.dropna() % 1 == 0).all():
            formats[column] = lambda v: "" if pd.isna(v) else str(int(v))
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record):
            text = formats[column](value) if column in formats else fmt(value)
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            cells.append(f"<td class=\"num\">{escape(text)}</td>" if numeric else f"<td>{escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return f"<div class=\"scroll\">{body}</div>" if scroll else body


def key_values(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of names and values."""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(fmt(v))}</td></tr>" for k, v in pairs)
    return f"<table><tbody>{rows}</tbody></table>"


def image(png: bytes, alt: str, caption: str = "") -> str:
    """A figure with the PNG embedded as a data URI."""
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f"<figure><img src=\"data:image/png;base64,{data}\" alt=\"{escape(alt)}\">{cap}</figure>"


def cards(items: Iterable[tuple[str, str, str]]) -> str:
    """Headline numbers: (label, value, sub-text)."""
    return "<div class=\"cards\">" + "".join(
        f"<div class=\"card\"><div class=\"label\">{escape(label)}</div><div class=\"value\">{escape(value)}"
        f"</div><div class=\"sub\">{escape(sub)}</div></div>" for label, value, sub in items) + "</div>"


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    """The whole document; ``sections`` are (anchor, heading, body HTML)."""
    nav = "".join(f"<a href=\"#{anchor}\">{escape(heading)}</a>" for anchor, heading, _ in sections)
    body = "".join(f"<section id=\"{anchor}\"><h2>{escape(heading)}</h2>{content}</section>"
                   for anchor, heading, content in sections)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{escape(title)}</h1><p class=\"muted\">{escape(subtitle)}</p><nav>{nav}</nav>{body}"
            f"</main></body></html>\n")
