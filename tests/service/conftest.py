"""The review fixtures (a fresh store, the example policy, settings, a desk) for these tests."""

from __future__ import annotations

from tests.support.review_fixtures import desk, policy, sealer, settings, store, threads

__all__ = ["desk", "policy", "sealer", "settings", "store", "threads"]
