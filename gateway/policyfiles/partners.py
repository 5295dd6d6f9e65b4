"""Reading ``policies/partners.toml``: optional; a partner may not be the organisation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from gateway.core.partners import PARTNERS_FILE as PARTNERS_FILE
from gateway.core.partners import PartnerPolicy, domain_flaws
from gateway.core.policy import Organisation

Load = Callable[[str, bool], dict[str, Any] | None]
Validation = Callable[[str, tuple[str, ...], ValidationError, type[PartnerPolicy]], None]
Add = Callable[[str, Sequence[str | int], object, str, str], None]


def read_partners(load: Load, validation: Validation, add: Add,
                  organisation: Organisation | None) -> PartnerPolicy:
    """The partners' label settings; without the file, nobody is written labels. Problems
    are reported through ``validation`` and ``add``."""
    data = load(PARTNERS_FILE, False)
    if data is None:
        return PartnerPolicy()
    tables = data.get("partners")
    if isinstance(tables, dict):
        flaws = domain_flaws(tables)
        for flaw in flaws:  # reported at the table's own line; the rest is still checked
            add(PARTNERS_FILE, ("partners", flaw.value), flaw.value, flaw.message, flaw.hint)
        if flaws:
            bad = {flaw.value for flaw in flaws}
            data = {**data, "partners": {k: v for k, v in tables.items() if k not in bad}}
    try:
        partners = PartnerPolicy.model_validate(data)
    except ValidationError as exc:
        validation(PARTNERS_FILE, (), exc, PartnerPolicy)
        return PartnerPolicy()
    for domain, own in partners.clashes(organisation.domains if organisation else ()):
        add(PARTNERS_FILE, ("partners", domain), domain,
            f"covers the organisation's own domain {own!r}",
            "labels are written for partners outside the organisation; remove this table "
            "or include_subdomains")
    return partners
