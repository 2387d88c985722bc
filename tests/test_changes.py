"""`changes`: the waterfall balanced to the cent, worked out by hand and over random histories whose
open value was read at the window's start, plus close-date and stage movement and the deal summaries."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def report(cli, *args) -> dict:
    return json.loads(cli("changes", *args, "--format", "json").stdout)


def flows(data: dict) -> dict:
    return {f["flow"]: Decimal(str(f["value"])) for f in data["flows"] if f["value"] or f["deals"]}


def open_value(cli) -> Decimal:
    """Return the open value `list` shows now (the reference the report must agree with)."""
    rows = json.loads(cli("list", "--status", "open", "--format", "json").stdout)
    return sum((Decimal(str(r["value"])) for r in rows if r["value"] is not None), Decimal(0))


def test_csv_defuses_its_text_cells_unless_raw(cli, monkeypatch):
    """`changes --format csv` is the waterfall: its steps (`+ created`, `- won`) are text a spreadsheet would
    run as formulas, so they are defused as every other CSV's text (`output.csv_cells`), amounts are not;
    `--raw` writes them as they are. The deals here sit in a stage and with an owner named as formulas: the
    waterfall names neither, and no cell starts with = + or @."""
    formula = '=HYPERLINK("http://x.example","x")'
    cli("pipeline", "add-stage", "Sales", formula)
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-01 09:00")
    won = int(cli("add-lead", "A", "--value", "1000", "--owner", formula).stdout)
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-10 09:00")
    cli("add-lead", "B", "--value", "250.50", "--owner", formula, "--stage", formula)  # created: +250.50
    cli("move", won, "won")  # -1000
    defused = list(csv.reader(io.StringIO(cli("changes", "--since", "7d", "--format", "csv").stdout)))
    raw = list(csv.reader(io.StringIO(cli("changes", "--since", "7d", "--format", "csv", "--raw").stdout)))
    assert raw == [
        ["step", "value", "deals"],
        ["open at start", "1000.00", ""],
        ["+ created", "250.50", "1"],
        ["- won", "-1000.00", "1"],
        ["open at end", "250.50", ""],
    ]
    assert defused == [[("'" + row[0]) if row[0][:1] in "+-" else row[0], *row[1:]] for row in raw]
    assert not any(cell.startswith(("=", "+", "@")) for row in defused for cell in row)


def test_a_hand_built_week(cli, monkeypatch):
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-01 09:00")
    a = int(cli("add-lead", "A", "--value", "1000", "--expected-close", "2026-11-20").stdout)
    b = int(cli("add-lead", "B", "--value", "2000").stdout)
    c = int(cli("add-lead", "C", "--value", "300.50").stdout)
    lost = int(cli("add-lead", "D", "--value", "700").stdout)
    cli("move", lost, "lost", "--reason", "price")
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-10 09:00")  # the window: 11-09 09:00 .. 11-16 09:00
    cli("edit", a, "--value", "1500", "--expected-close", "2026-12-20")  # +500, pushed
    cli("move", a, "Meeting")  # forward 3 stages
    cli("move", b, "won")  # -2000
    cli("edit", c, "--value", "100")  # -200.50
    new = int(cli("add-lead", "E", "--value", "50").stdout)  # +50
    cli("move", lost, "Contact")  # reopened +700
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-12 09:00")
    cli("edit", a, "--expected-close", "2026-11-30")  # pulled in
    cli("move", a, "Contact")  # back 2 stages
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-16 09:00")
    data = report(cli, "--since", "7d")
    assert Decimal(str(data["open_start"])) == Decimal("3300.50")  # A 1000 + B 2000 + C 300.50
    assert flows(data) == {
        "created": Decimal("50"),
        "value increased": Decimal("500"),
        "reopened": Decimal("700"),
        "value decreased": Decimal("-200.5"),
        "won": Decimal("-2000"),
    }
    assert Decimal(str(data["open_end"])) == Decimal("2350") == open_value(cli)  # A 1500 + C 100 + E 50 + D 700
    assert data["close_dates"]["pushed"] == 1 and data["close_dates"]["pulled_in"] == 1
    assert data["stages"] == {"forward": 1, "backward": 1}
    summaries = {d["lead_id"]: d["summary"] for d in data["deals"]}
    assert summaries[a] == "pushed 1×, pulled in 1×, +50 %, forward 1 stage, back 1 stage"
    assert summaries[b] == "won" and summaries[new] == "new" and summaries[lost] == "reopened"
    assert summaries[c] == "−67 %"
    md = cli("changes", "--since", "7d", "--format", "markdown").stdout
    assert md.startswith("# What changed") and "| open at end | €2,350.00 |" in md
    # a window before the changes: nothing moved, and the start is what was open then
    quiet = report(cli, "--since", "2026-11-02", "--until", "2026-11-05")
    assert flows(quiet) == {} and quiet["open_start"] == quiet["open_end"] == 3300.5
    owner = report(cli, "--since", "7d", "--owner", "nobody")
    assert owner["open_start"] == owner["open_end"] == 0


def test_bad_windows_are_refused(cli, monkeypatch):
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-16 09:00")
    cli("add-lead", "A")
    result = cli("changes", "--since", "2026-11-10", "--until", "2026-11-01", ok=False)
    assert result.exit_code == 1 and "is after --until" in result.stderr
    result = cli("changes", "--until", "2027-01-01", ok=False)
    assert result.exit_code == 1 and "in the future" in result.stderr
    assert cli("changes", "--format", "xml", ok=False).exit_code == 2


OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "value", "move", "won", "lost", "reopen", "delete", "owner", "undo"]),
        st.integers(0, 5),
        st.integers(1, 50_000),
    ),
    min_size=4,
    max_size=14,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=OPS, during=OPS, cents=st.integers(0, 99))
def test_the_waterfall_balances_over_random_histories(fresh_cli, before, during, cents):
    cli, env = fresh_cli()
    day = [0]

    def tick():
        day[0] += 1
        env.setenv("PIPECLI_NOW", f"2026-10-{day[0]:02d} 09:00")

    def play(ops):
        for op, pick, amount in ops:
            tick()
            ids = [r["id"] for r in json.loads(cli("list", "--format", "json").stdout)]
            lead = ids[pick % len(ids)] if ids else None
            value = f"{amount}.{cents:02d}"
            if op == "add" or lead is None:
                cli("add-lead", f"L{day[0]}", "--value", value, "--owner", "ann" if pick % 2 else "bob")
            elif op == "value":
                cli("edit", lead, "--value", value)
            elif op == "owner":
                cli("edit", lead, "--owner", "ann" if pick % 2 else "bob")
            elif op == "delete":
                cli("delete", lead, "--yes")
            elif op == "undo":
                cli("undo", "--yes", ok=False)
            else:
                stage = {"move": "Meeting", "won": "won", "lost": "lost", "reopen": "Contact"}[op]
                cli("move", lead, stage, ok=False)  # "already in" is fine

    play(before)
    tick()
    start_value, start = open_value(cli), f"2026-10-{day[0]:02d} 09:00"
    owned = json.loads(cli("list", "--status", "open", "--owner", "ann", "--format", "json").stdout)
    start_ann = sum((Decimal(str(r["value"])) for r in owned if r["value"] is not None), Decimal(0))
    play(during)
    tick()
    data = report(cli, "--since", start)
    total = sum((Decimal(str(f["value"])) for f in data["flows"]), Decimal(0))
    assert Decimal(str(data["open_start"])) == start_value
    assert Decimal(str(data["open_end"])) == open_value(cli)
    assert Decimal(str(data["open_start"])) + total == Decimal(str(data["open_end"]))
    ann = report(cli, "--since", start, "--owner", "ann")
    assert Decimal(str(ann["open_start"])) == start_ann
    ann_total = sum((Decimal(str(f["value"])) for f in ann["flows"]), Decimal(0))
    assert Decimal(str(ann["open_start"])) + ann_total == Decimal(str(ann["open_end"]))
