"""Weekly activity charts as inline SVG, drawn here (no chart library, no script)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

from affidavit.report.model import Series


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_LABEL, _BARS, _TOTAL, _ROW = 190, 430, 50, 26


def _short(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1) :]


def weekly_chart(weeks: Sequence[date], group: Sequence[Series], what: str) -> str:
    """Small multiples: one row of weekly bars per series, on one shared scale.

    Styling is in presentation attributes, not CSS: WeasyPrint's SVG renderer does not
    apply the page's stylesheet inside an inline SVG.
    """
    if not group:
        return f"<p>No file action recorded, so no chart per {_e(what)}.</p>"
    top = max(max(s.weekly, default=0) for s in group) or 1
    step = _BARS / len(weeks)
    bar = min(max(step * 0.7, 2.0), 28.0)
    width, height = _LABEL + _BARS + _TOTAL, _ROW * len(group) + 30
    font = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" {font}>',
        f"<title>File actions per week per {_e(what)}; tallest bar {top}</title>",
        f'<text x="{width}" y="10" font-size="8" fill="#666" text-anchor="end">total</text>',
    ]
    for row, s in enumerate(group):
        base = 12 + _ROW * (row + 1)
        fill = "#8a9bb0" if s.name.startswith("(") else "#4a78a8"
        parts.append(
            f'<text x="0" y="{base - 4}" font-size="9" fill="#222"><title>{_e(s.name)}</title>'
            f"{_e(_short(s.name))}</text>"
            f'<line x1="{_LABEL}" y1="{base}" x2="{_LABEL + _BARS}" y2="{base}" '
            'stroke="#c2cad6" stroke-width="0.6"/>'
            f'<text x="{width}" y="{base - 4}" font-size="9" font-weight="bold" fill="#222" '
            f'text-anchor="end">{s.total}</text>'
        )
        for i, n in enumerate(s.weekly):
            if not n:
                continue
            h = max((_ROW - 11) * n / top, 1.5)
            x = _LABEL + i * step + (step - bar) / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{fill}"/><text x="{x + bar / 2:.1f}" y="{base - h - 1.5:.1f}" '
                f'font-size="7" fill="#2c4a6e" text-anchor="middle">{n}</text>'
            )
    every = max(1, round(len(weeks) / 7))
    axis = 12 + _ROW * len(group) + 12
    for i, week in enumerate(weeks):
        if i % every == 0 or i == len(weeks) - 1:
            x = _LABEL + i * step + step / 2
            parts.append(
                f'<text x="{x:.1f}" y="{axis}" font-size="7.5" fill="#666" '
                f'text-anchor="middle">{week:%d %b}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
