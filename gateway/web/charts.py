"""Charts drawn on the server as SVG markup: no script, no style attribute, escaped text.

Colours come from the page's style sheet through classes (``s0`` … ``s5``), so the strict
CSP (``style-src 'self'``) holds. Every chart is an image with a ``<title>`` and ``<desc>``;
the page shows the same figures in a table beside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from gateway.service.insight import Series

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 10, 28
COLOURS = 6  # classes s0 … s5 in style.css; the sixth is for "the rest"


def _ticks(top: int) -> list[int]:
    """Up to five round values from 0 to at least ``top``."""
    if top <= 0:
        return [0, 1]
    scale = 1
    while True:
        for step in (scale, 2 * scale, 5 * scale):
            if top / step <= 5:
                return list(range(0, -(-top // step) * step + 1, step))
        scale *= 10


def _svg(chart_id: str, title: str, desc: str, body: list[str], height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-d">{escape(desc)}</desc>' + "".join(body) + "</svg>")


def series_class(index: int, count: int) -> str:
    """The colour class of the ``index``-th of ``count`` series (the last shared above 6)."""
    return f"s{min(index, COLOURS - 1)}"


def stacked_days(chart_id: str, title: str, days: Sequence[dt.date],
                 series: Sequence[Series]) -> Markup:
    """One stacked bar per day, a segment per series; each segment names its day and count."""
    totals = [sum(s.counts[n] for s in series) for n in range(len(days))]
    ticks = _ticks(max(totals, default=0))
    top = ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar = max(1.0, slot * 0.7)
    body: list[str] = ['<g class="axis">']
    for tick in ticks:
        y = TOP + plot_h - plot_h * tick / top
        body.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                    f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    for n, day in enumerate(days):
        last = n == len(days) - 1
        if (n % 5 == 0 and len(days) - n > 3) or last:  # the last day's label, at the edge
            x = WIDTH - RIGHT if last else LEFT + slot * n + slot / 2
            body.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" '
                        f'text-anchor="{"end" if last else "middle"}">'
                        f'{escape(day.strftime("%m-%d"))}</text>')
    body.append("</g>")
    for n, day in enumerate(days):
        x = LEFT + slot * n + (slot - bar) / 2
        base = float(TOP + plot_h)
        for index, line in enumerate(series):
            count = line.counts[n]
            if not count:
                continue
            h = plot_h * count / top
            base -= h
            body.append(f'<rect class="{series_class(index, len(series))}" x="{x:.1f}" '
                        f'y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                        f'<title>{escape(day.isoformat())}: {escape(line.label)} {count}'
                        '</title></rect>')
    total = sum(totals)
    busiest = max(range(len(days)), key=lambda n: totals[n]) if total else None
    desc = (f"{total} in {len(days)} days" +
            (f"; most on {days[busiest].isoformat()} ({totals[busiest]})"
             if busiest is not None else "") +
            "".join(f"; {s.label}: {s.total}" for s in series))
    return _svg(chart_id, title, desc, body)


def ranked_bars(chart_id: str, title: str, items: Sequence[tuple[str, int]]) -> Markup:
    """One horizontal bar per item, longest first, each labelled with its name and count."""
    row = 24
    height = TOP + row * max(1, len(items)) + 4
    top = max((n for _, n in items), default=0) or 1
    label_w = 350
    plot_w = WIDTH - label_w - 60
    body: list[str] = []
    for index, (name, count) in enumerate(items):
        y = TOP + row * index
        w = max(1.0, plot_w * count / top)
        body.append(f'<text class="label" x="{label_w - 6}" y="{y + 15}" text-anchor="end">'
                    f'{escape(_short(name))}</text>'
                    f'<rect class="s0" x="{label_w}" y="{y + 3}" width="{w:.1f}" '
                    f'height="{row - 6}">'
                    f'<title>{escape(name)}: {count}</title></rect>'
                    f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{count}</text>')
    desc = "; ".join(f"{name}: {count}" for name, count in items) or "nothing held"
    return _svg(chart_id, title, desc, body, height)


def _short(text: str, most: int = 40) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"
