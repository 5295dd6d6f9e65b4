"""Fixtures for the pure core: the shipped example policy and its stamp vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.policy import Policy, load_policy
from gateway.stamps import Vocabulary

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(POLICIES)


@pytest.fixture(scope="session")
def vocabulary(policy: Policy) -> Vocabulary:
    return policy.vocabulary
