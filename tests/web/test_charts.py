"""The dashboard's SVG: escaped text, a bar per count, an accessible name and description."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from gateway.service.insight import Series
from gateway.web.charts import ranked_bars, stacked_days

SVG = "{http://www.w3.org/2000/svg}"
DAYS = tuple(dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(30))


def test_labels_are_escaped_and_every_count_is_drawn() -> None:
    hostile = 'rule"><script>alert(1)</script>'
    counts = tuple([0] * 27 + [2, 0, 5])
    markup = str(stacked_days("c", "Held <per> day", DAYS, [
        Series("a", hostile, counts), Series("b", "Internal", tuple([1] * 30))]))
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    root = ET.fromstring(markup)  # well-formed XML
    assert root.get("role") == "img"
    assert root.findtext(f"{SVG}title") == "Held <per> day"
    desc = root.findtext(f"{SVG}desc") or ""
    assert "37 in 30 days" in desc and "most on 2026-11-30 (6)" in desc
    rects = root.findall(f".//{SVG}rect")
    assert len(rects) == 32  # 30 days of Internal, two days of the other
    titles = sorted(r.findtext(f"{SVG}title") or "" for r in rects)
    assert f"2026-11-30: {hostile} 5" in titles and "style" not in markup


def test_ranked_bars_name_each_rule_and_its_count() -> None:
    root = ET.fromstring(str(ranked_bars("t", "Top", [("needs_adjustment.external", 5),
                                                      ("photo-faces", 1)])))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["needs_adjustment.external", "5", "photo-faces", "1"]
    assert root.findtext(f"{SVG}desc") == "needs_adjustment.external: 5; photo-faces: 1"
