"""Reading ``policies/photos.toml``: optional; its groups must be groups of the policy."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from pydantic import ValidationError

from gateway.core.photos import PHOTOS_FILE, PhotoPolicy

Load = Callable[[str, bool], dict[str, Any] | None]
Validation = Callable[[str, tuple[str, ...], ValidationError, type[PhotoPolicy]], None]
Add = Callable[[str, Sequence[str | int], object, str, str], None]


def read_photos(load: Load, validation: Validation, add: Add,
                groups: Collection[str]) -> PhotoPolicy:
    """The photo policy; without the file, the defaults (strip for communications and
    outside). Problems are reported through ``validation`` and ``add``."""
    data = load(PHOTOS_FILE, False)
    if data is None:
        return PhotoPolicy()
    try:
        photos = PhotoPolicy.model_validate(data)
    except ValidationError as exc:
        validation(PHOTOS_FILE, (), exc, PhotoPolicy)
        return PhotoPolicy()
    for table in ("metadata", "faces"):
        named: dict[str, Any] = getattr(photos, table).groups
        for name in named:
            if name not in groups:
                add(PHOTOS_FILE, (table, "groups", name), name, "names no known group",
                    f"known groups: {', '.join(sorted(groups)) or 'none'}")
    return photos
