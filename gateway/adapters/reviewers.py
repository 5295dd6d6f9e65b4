"""Reviewer accounts: who may log in to the review UI (argon2 hashes in DATA/reviewers.json).

The file has the format of the submission users file (``auth.py``) and is read by the same
``Accounts`` class, so a ``stampgate reviewers disable`` takes effect at the next request.
"""

from __future__ import annotations

from pathlib import Path

from gateway.adapters.accounts import Account, Accounts

REVIEWERS_FILE = "reviewers.json"


def reviewers_path(data_dir: Path) -> Path:
    return data_dir / REVIEWERS_FILE


def reviewer_accounts(data_dir: Path) -> Accounts:
    return Accounts(reviewers_path(data_dir))


def notice_address(account: Account | None) -> str | None:
    """Where a reviewer's own notices go (their first address)."""
    if account is None or not account.addresses:
        return None
    return account.addresses[0]
