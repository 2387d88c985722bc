"""The values scoring reads from a lead: its columns (`LEAD_FIELDS`) and its extra fields by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

import math

from pipecli import config, money
from pipecli.store.sql import execute_in

# Lead columns a rule may name (`value` is the deal value in major units); any other name is an extra field.
# (Not the stage: moves do not recompute the fit, so a rule over it would go stale.)
LEAD_FIELDS = ("name", "company", "email", "phone", "value", "source", "owner", "external_id")


def as_number(value: object) -> float | None:
    """Return `value` as a float when it reads as a number ("1,200" and "15.5" do), else None."""
    if isinstance(value, (int, float)):
        return float(value)
    try:
        number = float(str(value).strip().replace(",", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def field_values(conn: Connection, lead_ids: list[int] | None, fields: set[str]) -> dict[int, dict[str, Any]]:
    """Return {lead_id: {field: value}} with every lead column rules may name plus the wanted extra
    fields (keys lower-cased), for the given leads (all when None); `pipeline_id` says which learned model
    scores the lead."""
    only = {} if lead_ids is None else {"ids": list(lead_ids)}
    out: dict[int, dict[str, Any]] = {}
    for r in execute_in(
        conn,
        "SELECT l.id, l.pipeline_id, l.status, l.name, l.company, l.email, l.phone, l.value_minor, l.source, l.owner, l.external_id"
        " FROM lead l" + (" WHERE l.id IN :ids" if only else ""),
        **only,
    ).mappings():
        values = dict(r)
        values["value"] = None if r["value_minor"] is None else _major(r["value_minor"])
        out[r["id"]] = values
    extra = sorted({f.lower() for f in fields if f not in LEAD_FIELDS})
    if extra and out:
        rows = execute_in(
            conn,
            "SELECT lead_id, key, value FROM lead_extra WHERE lower(key) IN :keys"
            + (" AND lead_id IN :ids" if only else ""),
            keys=extra,
            **only,
        )
        for lead_id, key, value in rows:
            if lead_id in out:
                out[lead_id].setdefault(key.lower(), value)
    return out


def _major(minor: int) -> float:
    return float(money.to_decimal(minor, config.currency()))


def lookup(values: dict[str, Any], field: str) -> Any:
    """Return a field's value from `field_values` output: a lead column, else an extra field by name."""
    if field in LEAD_FIELDS:
        return values.get(field)
    return values.get(field.lower())
