"""Settings of the limits: defaults, and bad values refused with the setting and value named."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.settings import SettingsError, load_settings


def test_limit_defaults() -> None:
    settings = load_settings(None, {})
    assert (settings.connection_prefix_v4, settings.connection_prefix_v6) == (24, 64)
    assert 0 < settings.reserved_connections < settings.max_connections
    assert settings.max_header_size == 100 * 1024
    assert settings.min_free_bytes >= 2 * settings.max_message_size


@pytest.mark.parametrize(("values", "expected"), [
    ({"max_connections": 40, "reserved_connections": 40},
     "setting reserved_connections: must be less than max_connections (40)"),
    ({"connection_prefix_v4": 33}, "setting connection_prefix_v4: "),
    ({"connection_prefix_v6": 8}, "setting connection_prefix_v6: "),
    ({"reserved_connections": "some"}, "(value: 'some')"),
    ({"max_header_size": 10}, "setting max_header_size: "),
    ({"min_free_bytes": -1}, "setting min_free_bytes: "),
    ({"min_free_bytes": "lots"}, "(value: 'lots')"),
])
def test_bad_limits_are_refused_by_name(values: dict[str, Any], expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None, values)
    assert expected in str(caught.value)
