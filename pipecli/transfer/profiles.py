"""Vendor profiles: how another CRM's export columns read as lead fields, and how its outcomes read.

One `Profile` per vendor: its real export headers (header -> field), the headers that identify its export
(`signature`), and the columns that say a deal's outcome (a status, `IsWon`/`IsClosed`) and when it happened
(`Won time`, `Lost time`, a close date that is a close date only once the deal is closed). `plan` turns a
file's header into a header of pipecli field names plus the unmapped columns (kept as extras under their
original header) and a function that rewrites each row to match, so the rest of the import (mapping, rejects,
upserts, all-or-nothing) reads a profiled file exactly as a plain CSV. A won or lost deal gets the outcome as
its stage and the outcome's date as its close date; nothing else is invented.

`guard` is the "never silently wrong" check of every import: a column that looks like a status or an outcome
but is kept as an extra stops the import, saying how to map it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipecli.errors import PipecliError
from pipecli.transfer.columns import EXTRA_PREFIX, SYNONYMS, norm_header
from pipecli.vocabulary import IMPORT_PROFILES

# pseudo-fields a profile maps to, read into real fields by `plan`
FIRST_NAME, LAST_NAME = "first_name", "last_name"
STATUS = "status"  # open / won / lost
IS_WON, IS_CLOSED = "is_won", "is_closed"
WON_TIME, LOST_TIME = "won_time", "lost_time"
CLOSE_OR_EXPECTED = "close_or_expected"  # the close date of a closed deal, the expected close of an open one
CURRENCY = "currency"  # the value's currency code, written after the value so the amount check reads it
PSEUDO = (FIRST_NAME, LAST_NAME, STATUS, IS_WON, IS_CLOSED, WON_TIME, LOST_TIME, CLOSE_OR_EXPECTED, CURRENCY)
OUTPUT_FIELDS = (
    "name",
    "company",
    "email",
    "phone",
    "value",
    "stage",
    "pipeline",
    "owner",
    "source",
    "created",
    "close_date",
    "expected_close",
    "external_id",
    "lost_reason",
    "forecast_category",
    "note",
)
TRUE = {"true", "1", "yes", "y", "t", "x"}
CLOSED_STAGES = {"closedwon": "won", "closedlost": "lost", "won": "won", "lost": "lost"}


@dataclass(frozen=True)
class Profile:
    """One vendor's export: header -> field (a lead field, a pseudo-field, "extra" or "ignore")."""

    name: str
    title: str  # as the summary names it
    columns: dict[str, str]
    signature: tuple[str, ...]  # headers every export of this kind has
    extras: tuple[str, ...] = field(default=())  # columns kept as extras on purpose (read by no field)


PROFILES = {
    p.name: p
    for p in (
        Profile(
            "pipedrive",
            "Pipedrive deals export",
            {
                "Deal - ID": "external_id",
                "Deal - Title": "name",
                "Deal - Value": "value",
                "Deal - Currency": CURRENCY,
                "Deal - Status": STATUS,
                "Deal - Stage": "stage",
                "Deal - Owner": "owner",
                "Organization - Name": "company",
                "Person - Email": "email",
                "Person - Phone": "phone",
                "Deal - Deal created": "created",
                "Deal - Won time": WON_TIME,
                "Deal - Lost time": LOST_TIME,
                "Deal - Expected close date": "expected_close",
                "Deal - Lost reason": "lost_reason",
                "Deal - Source": "source",
            },
            ("Deal - Title", "Deal - Status"),
        ),
        Profile(
            "salesforce",
            "Salesforce opportunities export",
            {
                "Id": "external_id",
                "Name": "name",
                "StageName": "stage",
                "Amount": "value",
                "CurrencyIsoCode": CURRENCY,
                "CloseDate": CLOSE_OR_EXPECTED,
                "CreatedDate": "created",
                "IsWon": IS_WON,
                "IsClosed": IS_CLOSED,
                "Owner.Name": "owner",
                "Account.Name": "company",
                "LeadSource": "source",
                "Description": "note",
                "ForecastCategoryName": "forecast_category",
            },
            ("StageName", "IsWon", "IsClosed"),
            ("Probability",),
        ),
        Profile(
            "hubspot",
            "HubSpot deals export",
            {
                "Record ID": "external_id",
                "Deal Name": "name",
                "Deal Stage": "stage",
                "Amount": "value",
                "Close Date": CLOSE_OR_EXPECTED,
                "Create Date": "created",
                "Deal owner": "owner",
                "Associated Company": "company",
                "Closed Lost Reason": "lost_reason",
                "Forecast category": "forecast_category",
            },
            ("Record ID", "Deal Name", "Deal Stage"),
            ("Deal probability",),
        ),
        Profile(
            "hubspot-contacts",
            "HubSpot contacts export",
            {
                "Record ID": "external_id",
                "First Name": FIRST_NAME,
                "Last Name": LAST_NAME,
                "Email": "email",
                "Phone Number": "phone",
                "Company Name": "company",
                "Contact owner": "owner",
                "Create Date": "created",
                "Lifecycle Stage": "extra",  # a contact's lifecycle (Lead, Customer), not a deal's stage
            },
            ("Record ID", "First Name", "Last Name", "Lifecycle Stage"),
            ("Lifecycle Stage",),
        ),
        Profile(
            "zoho",
            "Zoho CRM deals export",
            {
                "Record Id": "external_id",
                "Deal Name": "name",
                "Account Name": "company",
                "Amount": "value",
                "Stage": "stage",
                "Closing Date": CLOSE_OR_EXPECTED,
                "Deal Owner": "owner",
                "Created Time": "created",
                "Lead Source": "source",
                "Description": "note",
                "Reason For Loss": "lost_reason",
            },
            ("Deal Name", "Stage", "Closing Date", "Deal Owner"),
            ("Probability (%)", "Expected Revenue"),
        ),
        Profile(
            "odoo",
            "Odoo CRM opportunities export",
            {
                "ID": "external_id",
                "Opportunity": "name",
                "Customer": "company",
                "Email": "email",
                "Phone": "phone",
                "Expected Revenue": "value",
                "Stage": "stage",
                "Salesperson": "owner",
                "Expected Closing": "expected_close",
                "Created on": "created",
                "Closed Date": "close_date",
                "Lost Reason": "lost_reason",
                "Source": "source",
                "Notes": "note",
            },
            ("Opportunity", "Expected Revenue", "Salesperson"),
            ("Probability", "Sales Team"),
        ),
    )
}
CHOICES = IMPORT_PROFILES  # `import --from`: plain CSV and every profile above


def _matches(profile: Profile, header: Sequence[str]) -> bool:
    present = {h.strip() for h in header}
    return all(s in present for s in profile.signature)


def detect(header: Sequence[str]) -> Profile | None:
    """Return the profile whose signature the header has (the most specific one), or None: a plain CSV."""
    hits = [p for p in PROFILES.values() if _matches(p, header)]
    return max(hits, key=lambda p: len(p.signature)) if hits else None


def choose(name: str | None, header: Sequence[str], label: str) -> Profile | None:
    """Return the profile `--from NAME` asks for (None for csv), detected when NAME is None; raise a
    one-line PipecliError when the file is not that vendor's export."""
    if name is None:
        return detect(header)
    if name == "csv":
        return None
    candidates = [p for p in PROFILES.values() if p.name == name or p.name.startswith(name + "-")]
    for profile in candidates:
        if _matches(profile, header):
            return profile
    wanted = candidates[0]
    missing = [s for s in wanted.signature if s not in {h.strip() for h in header}]
    found = detect(header)
    hint = f"; it looks like a {found.title} (--from {found.name.split('-')[0]})" if found else ""
    raise PipecliError(f"{label} is not a {wanted.title}: it has no column {', '.join(map(repr, missing))}{hint}")


Rewrite = Callable[[list[str]], list[str]]


def plan(profile: Profile, header: Sequence[str]) -> tuple[list[str], Rewrite]:
    """Return (the new header, the row rewrite) reading a file of `profile` as pipecli fields: the mapped
    fields by their pipecli names, then every other column under its original header (an extra)."""
    index: dict[str, int] = {}
    extras: list[int] = []
    by_header = profile.columns
    for i, h in enumerate(header):
        f = by_header.get(h.strip())
        if f in OUTPUT_FIELDS or f in PSEUDO:
            if f in index:
                extras.append(i)  # a second column naming one field is kept, as an extra
            else:
                index[f] = i
        else:
            extras.append(i)
    fields = [f for f in OUTPUT_FIELDS if f in index]
    for f in (FIRST_NAME, LAST_NAME):
        if f in index and "name" not in fields:
            fields.insert(0, "name")
    outcome = any(f in index for f in (STATUS, IS_WON, IS_CLOSED, WON_TIME, LOST_TIME, CLOSE_OR_EXPECTED))
    if outcome:
        for f in ("stage", "close_date", "expected_close"):
            if f not in fields:
                fields.append(f)
    # an unmapped column whose header is a pipecli synonym (HubSpot's `Pipeline`) stays an extra
    synonyms = {s for names in SYNONYMS.values() for s in names}
    new_header = fields + [
        EXTRA_PREFIX + header[i] if norm_header(header[i]) in synonyms else header[i] for i in extras
    ]
    width = len(header)

    def cell(cells: list[str], f: str) -> str:
        i = index.get(f)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    def rewrite(cells: list[str]) -> list[str]:
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        values = {f: cell(cells, f) for f in OUTPUT_FIELDS if f in index}
        if values.get("value") and len(code := cell(cells, CURRENCY)) == 3:
            # `4500 USD`: refused in a EUR database (money.parse_amount), read as is in a USD one
            values["value"] = f"{values['value']} {code.upper()}"
        if FIRST_NAME in index or LAST_NAME in index:
            values["name"] = " ".join(p for p in (cell(cells, FIRST_NAME), cell(cells, LAST_NAME)) if p)
        if outcome:
            status = _status(cells, cell, index, values.get("stage", ""))
            if status in ("won", "lost"):
                values["stage"] = status
                when = cell(cells, WON_TIME if status == "won" else LOST_TIME) or cell(cells, CLOSE_OR_EXPECTED)
                values["close_date"] = when or values.get("close_date", "")
            elif CLOSE_OR_EXPECTED in index and not values.get("expected_close"):
                values["expected_close"] = cell(cells, CLOSE_OR_EXPECTED)
        return [values.get(f, "") for f in fields] + [cells[i] if i < len(cells) else "" for i in extras]

    return new_header, rewrite


def _status(cells: list[str], cell: Callable[[list[str], str], str], index: dict[str, int], stage: str) -> str:
    """Return a row's outcome (won, lost, or open) from whichever columns the export says it in."""
    if STATUS in index:
        status = cell(cells, STATUS).lower()
        if status in ("won", "lost"):
            return status
    if IS_CLOSED in index:
        if cell(cells, IS_CLOSED).lower() not in TRUE:
            return "open"
        return "won" if cell(cells, IS_WON).lower() in TRUE else "lost"
    if IS_WON in index and cell(cells, IS_WON).lower() in TRUE:
        return "won"
    closed = CLOSED_STAGES.get(norm_header(stage))
    if closed is None and norm_header(stage).startswith("closedlost"):
        closed = "lost"  # Zoho's "Closed Lost to Competition"
    return closed or "open"


# Header and value words that say a column holds a status or an outcome.
STATUS_HEADERS = {"status", "dealstatus", "iswon", "isclosed", "won", "lost", "outcome", "result", "stato", "statut"}
STATUS_VALUES = {"won", "lost", "closedwon", "closedlost", "open"}


def _agrees_with_stage(columns: list[dict[str, str]], sample: list[list[str]], i: int) -> bool:
    """Return whether column `i` only repeats what the stage column says (won and lost where the stage is
    won or lost, open elsewhere), as pipecli's own `list --format csv` does: then it loses nothing."""
    stage = next((j for j, c in enumerate(columns) if c["field"] == "stage"), None)
    if stage is None:
        return False
    for row in sample:
        if len(row) <= max(i, stage) or not row[i].strip():
            continue
        status, at = norm_header(row[i]), norm_header(row[stage])
        if status not in ("open", "won", "lost") or (status == "open") != (at not in ("won", "lost")):
            return False
        if status != "open" and status != at:
            return False
    return True


def guard(columns: list[dict[str, str]], sample: list[list[str]], keep: set[str]) -> None:
    """Raise a one-line PipecliError when a column kept as an extra field looks like a status or an outcome
    (by its header, or because most of its sample cells are Won/Lost/Closed Won...), unless `keep` (the
    headers `--map COL=extra` names, normalised) says to keep it or it agrees with the stage column on
    every sampled row."""
    for i, column in enumerate(columns):
        if column["field"] != "extra" or norm_header(column["column"]) in keep:
            continue
        name = norm_header(column["column"].split(" - ")[-1])
        cells = [norm_header(r[i]) for r in sample if len(r) > i and r[i].strip()]
        outcome_cells = [c for c in cells if c in STATUS_VALUES]
        by_values = bool(cells) and len(outcome_cells) * 2 > len(cells) and set(outcome_cells) - {"open"}
        if (name in STATUS_HEADERS or by_values) and not _agrees_with_stage(columns, sample, i):
            col = column["column"]
            if all(c in STATUS_VALUES - {"open"} for c in cells):
                raise PipecliError(
                    f"column {col!r} looks like a deal status but is not read as one; map it with "
                    f"--map '{col}=stage' (values won/lost/a stage name), or keep it with --map '{col}=extra'"
                )
            # true/false or open: --map COL=stage would reject those rows, so it is not the advice
            seen = ", ".join(dict.fromkeys(r[i].strip() for r in sample if len(r) > i and r[i].strip()))
            raise PipecliError(
                f"column {col!r} looks like a deal status but is not read as one, and its values ({seen}) are not"
                f" stages: keep it with --map '{col}=extra', or write them as won/lost or stage names and map it"
                f" with --map '{col}=stage'"
            )
