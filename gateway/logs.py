"""JSON log lines with structlog; callers pass ids, addresses, stamps and rule names only."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO, cast

import structlog
import structlog.tracebacks


def configure(level: str = "info") -> None:
    """One JSON object per line on stderr."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # Tracebacks without local variables: a frame's locals can hold message bytes.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # one write per line, so workers sharing stderr never interleave
        logger_factory=structlog.WriteLoggerFactory(cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
    quiet_libraries()


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at the time of writing, not when logging was configured
    (a caller that swaps stderr, or closes a swapped one, never strands the log)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def quiet_libraries() -> None:
    """Silence libraries whose log lines could carry message content."""
    # aiosmtpd logs every DATA line at debug level, peers at info, and the first word of
    # unknown commands (which can be a pipelined body line) at warning; keep it quiet. The
    # gateway logs the events that matter itself.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    # pypdf warns about each oddity of a broken PDF, sometimes quoting the document; the
    # reader records such a file as unreadable instead.
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)


def get_logger() -> Any:
    """A lazy logger: it follows ``configure`` even when created at import time."""
    return structlog.get_logger("stampgate")
