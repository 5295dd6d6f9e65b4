"""The HTML reader on worst-case input: linear time, no recursion, the text still found."""

from __future__ import annotations

import time

from gateway.core.html_text import renderings

# Generous guards on a shared machine; the measured figures come from tests/perf/bench_html.py.
GUARD_SECONDS = 90.0


def timed(markup: str) -> tuple[tuple[str, ...], float]:
    start = time.perf_counter()
    found = renderings(markup)
    return found, time.perf_counter() - start


def test_deeply_nested_blocks() -> None:
    found, seconds = timed("<div>" * 100_000 + "Confidential" + "</div>" * 100_000)
    assert found[0] == "Confidential"
    assert seconds < GUARD_SECONDS


def test_deeply_nested_inline_and_hidden_elements() -> None:
    markup = "<span>" * 50_000 + "<b style='display:none'>Cleared</b>" + "<i>" * 50_000
    found, seconds = timed(markup + "Internal")
    assert found[0] == "Internal"
    assert "Cleared" in "".join(found)
    assert seconds < GUARD_SECONDS


def test_ten_megabytes_of_mail_html() -> None:
    row = ("<tr><td style='color:#333;font-size:14px' class='c'>Hello <b>world</b> &amp; co"
           "</td></tr>\n")
    markup = "<p>Internal</p><table>" + row * (10_000_000 // len(row)) + "</table>"
    found, seconds = timed(markup)
    assert found[0].startswith("Internal\n\nHello world & co\n")
    assert seconds < GUARD_SECONDS


def test_ten_megabytes_of_blank_lines_and_one_long_line() -> None:
    found, seconds = timed("<br>\n" * 1_000_000 + "Confidential " + "x" * 5_000_000)
    assert found[0].strip().startswith("Confidential x")
    assert seconds < GUARD_SECONDS


def test_adversarial_markers_and_comments() -> None:
    markup = "<!--[if" * 200_000 + "<!--" * 200_000 + "<p>Internal</p>"
    found, seconds = timed(markup)
    assert all("Internal" not in text for text in found)  # all inside an unclosed comment
    assert seconds < GUARD_SECONDS
    found, seconds = timed("<style>" + ".a{display:none}" * 100_000 + "</style><p>Internal</p>")
    assert found[0] == "Internal"
    assert seconds < GUARD_SECONDS
