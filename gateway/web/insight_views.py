"""The reviewers' dashboard: holds per day by stamp and by rule, time to a decision, holds
about to expire, the rules that hold most; server-drawn SVG charts with their tables."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from gateway.service.insight import DAYS, MAX_ROWS, duration_text, insight
from gateway.service.queue import age_text
from gateway.store.records import now
from gateway.web import charts

if TYPE_CHECKING:
    from gateway.web.app import ReviewUI


class InsightViews:
    """``/insight``, for any logged-in reviewer."""

    def __init__(self, ui: ReviewUI) -> None:
        self.ui = ui
        ui.templates.get_template("insight.html")

    async def page(self, request: Request) -> Response:
        if self.ui._reviewer(request) is None:
            return self.ui._to_login(request)
        at = now()
        expiry = dt.timedelta(days=self.ui.desk.settings.hold_expiry_days)
        figures = await insight(self.ui.desk.store, at, expiry)
        totals = [sum(s.counts[n] for s in figures.by_stamp) for n in range(len(figures.days))]
        return self.ui._page(request, "insight.html", {
            "f": figures, "days": DAYS, "max_rows": f"{MAX_ROWS:,}",
            "median": duration_text(figures.median_decision),
            "soon": duration_text(figures.soon),
            "stamp_chart": charts.stacked_days(
                "by-stamp", f"Held per day by stamp, last {DAYS} days", figures.days,
                figures.by_stamp),
            "rule_chart": charts.stacked_days(
                "by-rule", f"Held per day by rule, last {DAYS} days", figures.days,
                figures.by_rule),
            "top_chart": charts.ranked_bars(
                "top-rules", f"Rules that held most, last {DAYS} days", figures.top_rules),
            "colour": charts.series_class,
            "busy_days": [n for n, total in enumerate(totals) if total],
            "day_totals": totals,
            "left": lambda when: age_text(when - at)})
