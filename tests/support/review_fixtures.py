"""Fixtures for the review tests: a fresh store, the example policy, settings and a desk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.adapters.crypto import BodySealer
from gateway.core.policy import Policy
from gateway.service.review import Desk
from gateway.settings import Settings, held_sealer
from gateway.store.store import Store
from gateway.store.threads import ThreadMemory
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


@pytest.fixture
async def threads(store: Store) -> AsyncIterator[ThreadMemory]:
    memory = ThreadMemory(store.path, store.write)
    await memory.open()
    yield memory
    await memory.close()


@pytest.fixture
def sealer(settings: Settings) -> BodySealer:
    """The sealer the settings describe (no master key: bodies are stored as they are)."""
    return held_sealer(settings)


@pytest.fixture
def desk(store: Store, settings: Settings, policy: Policy, sealer: BodySealer,
         threads: ThreadMemory) -> Desk:
    return Desk(store, settings, lambda: policy, sealer, threads)
