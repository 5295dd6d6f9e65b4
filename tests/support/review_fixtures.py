"""Fixtures for the review tests: a fresh store, the example policy, settings and a desk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.adapters import crypto
from gateway.core.policy import Policy
from gateway.service.review import Desk
from gateway.settings import Settings
from gateway.store.store import Store
from tests.support.held import example_policy, settings_for


@pytest.fixture(scope="session")
def policy() -> Policy:
    return example_policy()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path / "var")


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    opened = await Store.open(Path(settings.data))
    yield opened
    await opened.close()
    crypto.configure(None, Path(settings.data))


@pytest.fixture
def desk(store: Store, settings: Settings, policy: Policy) -> Desk:
    return Desk(store, settings, lambda: policy)
