"""Timing of the HTML reader on worst-case inputs: `python tests/perf/bench_html.py`."""

from __future__ import annotations

import time

from gateway.core.html_text import renderings

ROW = ("<tr><td style='color:#333;font-size:14px' class='c'>Hello <b>world</b> &amp; co"
       "</td></tr>\n")
CASES = {
    "100k nested divs": "<div>" * 100_000 + "Confidential" + "</div>" * 100_000,
    "100k nested spans": "<span>" * 100_000 + "Confidential",
    "10 MB of table rows": "<table>" + ROW * (10_000_000 // len(ROW)) + "</table>",
    "1M blank lines": "<br>\n" * 1_000_000 + "Confidential",
    "5 MB single line": "<p>Confidential " + "x" * 5_000_000 + "</p>",
    "100k style rules": "<style>" + ".a{display:none}" * 100_000 + "</style><p>Internal</p>",
    "100k approximated rules": "<style>" + "body .a{color:#fff}" * 100_000 + "</style>"
                               + "<p class=a>Internal</p>" * 1000,
    "nested rules 5k deep": "<style>" + "div{" * 5_000 + ".a{display:none}" + "}" * 5_000
                            + "</style><p class=a>Internal</p>",
    "10k SVG pictures": "<img src=\"data:image/svg+xml,%3Csvg%3E%3Ctext%3EInternal%3C/text%3E"
                        "%3C/svg%3E\">" * 10_000,
    "1k data: imports": "<style>" + "@import url('data:text/css,.a%7Bcolor:red%7D');" * 1000
                        + "</style><p class=a>Internal</p>",
}


def main() -> None:
    for name, markup in CASES.items():
        start = time.perf_counter()
        found = renderings(markup)
        seconds = time.perf_counter() - start
        print(f"{name:24} {len(markup) / 1e6:6.1f} MB {seconds:7.2f} s {len(found)} candidates")


if __name__ == "__main__":
    main()
