"""`pipecli ui` speed on 100,000 open deals: the time to open the board and the 95th percentile of a
keypress's re-render (cursor, filter, move), with textual's headless driver, printed beside the wall time
of `pipecli board` on the same database. Targets (issue 18): open ≤ 1.5 s, keypress p95 ≤ 100 ms.

The database is built once with the standard sqlite3 module on pipecli's own schema: N open deals spread
over the default pipeline's five open stages, each with its creation stage_change row, a value, an owner,
a source, half of them with a next step (some overdue), entered their stage up to 90 days ago.

    python benchmarks/ui.py [--deals 100000] [--keys 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bigdb  # noqa: E402

os.environ.setdefault("PIPECLI_NOW", bigdb.NOW)
os.environ.setdefault("TZ", "UTC")
time.tzset()
DAY = 86400
# the filters timed, in order, then owner=seller03 alone and no filter: "lead" matches every deal, the others
# 11,112, 1,111 and 111 of 100,000 (the names are "Lead N")
FILTERS = ("lead 1", "lead 22", "lead 333", "lead")


def build(path: Path, n: int) -> None:
    """Create the database at `path` with `n` open deals (see the module docstring)."""
    from pipecli import clock
    from pipecli.pipelines import open_store

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    open_store(str(tmp), create=True).dispose()
    now = clock.now_ts()
    db = sqlite3.connect(tmp)
    stages = [r[0] for r in db.execute("SELECT id FROM stage WHERE kind = 'open' ORDER BY position")]
    rng = random.Random(18)
    leads, changes = [], []
    for i in range(1, n + 1):
        stage = stages[rng.randrange(len(stages))]
        entered = now - rng.randrange(90 * DAY)
        due = None
        if i % 2:
            due = (clock.from_ts(now).date().toordinal() + rng.randrange(-10, 30), "call back")
        leads.append(
            (
                i, 1, stage, "open", f"Lead {i}", f"Company {i % 5000}", f"lead{i}@example.com",
                rng.randrange(1, 500) * 10000, rng.choice(bigdb.SOURCES), rng.choice(bigdb.OWNERS),
                entered, entered, entered, stages.index(stage) + 1,
                due[1] if due else None,
                __import__("datetime").date.fromordinal(due[0]).isoformat() if due else None,
            )
        )  # fmt: skip
        changes.append((i, None, stage, entered))
    db.executemany(
        "INSERT INTO lead (id, pipeline_id, stage_id, status, name, company, email, value_minor, source, owner,"
        " created_at, stage_entered_at, last_event_at, furthest_position, next_step, next_step_due,"
        " fit_score, engagement, score, qualification) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " 0, 0, 0, 'incomplete')",
        leads,
    )
    db.executemany("INSERT INTO stage_change (lead_id, from_stage_id, to_stage_id, at) VALUES (?, ?, ?, ?)", changes)
    db.commit()
    db.close()
    tmp.rename(path)


def pipecli_board(path: Path, repeat: int) -> float:
    """Return the best wall time of `pipecli board` on the database, as a subprocess."""
    command = [sys.executable, "-m", "pipecli", "--db", str(path), "board"]
    return bigdb.best(lambda: subprocess.run(command, stdout=subprocess.DEVNULL, check=True), repeat)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


async def drive(path: Path, size: tuple[int, int], keys: int, floor: bool = False) -> dict[str, object]:
    """Open the app headless at `size` and time its opening and its keypresses: a key's time runs from
    the key's arrival to the end of the last frame the app composes for it for the terminal (`App._display`,
    which the headless driver then skips writing), so it is what a user waits, not Pilot's settling. With `floor`, the same key loop on
    an empty textual app that repaints one line per key: textual's own cost."""
    from textual.app import App
    from textual.widgets import Static

    from pipecli.pipelines import open_store
    from pipecli.ui.actions import Session
    from pipecli.ui.app import BoardApp
    from pipecli.ui.screens import Form

    class Floor(App[None]):
        BINDINGS = [("j", "tick", ""), ("k", "tick", ""), ("l", "tick", ""), ("h", "tick", "")]  # noqa: RUF012

        def compose(self):
            yield Static("0", id="n")

        def action_tick(self) -> None:
            self.query_one("#n", Static).update(str(time.perf_counter()))

    store = open_store(str(path))
    started = time.perf_counter()
    app = Floor() if floor else BoardApp(Session(store, "EUR"), poll=3600)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        opened = time.perf_counter() - started
        await app.workers.wait_for_complete()
        marked = time.perf_counter() - started
        frames: list[float] = []
        real_display = app._display

        def display(screen, renderable) -> None:
            if renderable is not None:  # a frame: what a terminal driver would write
                frames.append(time.perf_counter())
            real_display(screen, renderable)

        app._display = display  # type: ignore[method-assign]

        async def timed(key: str) -> float:
            await pilot.pause()
            seen = len(frames)
            t = time.perf_counter()
            await pilot.press(key)  # returns once the app is idle again: the key's frames are composed
            return frames[-1] - t if len(frames) > seen else 0.0

        if not floor:
            # clean's marks arrive later from their own process (timed above as "stale marks"); left out
            # here so a key's figure is its own frames, not a late answer to an earlier key
            app.refresh_stale = lambda: None  # type: ignore[method-assign]
        cursor = []
        for i in range(keys):
            cursor.append(await timed("j" if (i // 20) % 2 == 0 else "k"))
            if i % 25 == 24:
                cursor.append(await timed("l" if (i // 50) % 2 == 0 else "h"))
        for _ in range(keys // 2):  # deep scrolling: past the cached window
            cursor.append(await timed("j"))
        if floor:
            return {"opened": opened, "cursor": cursor}

        async def through_form(key: str, **values: str) -> float:
            await pilot.press(key)
            await pilot.pause()
            form = app.screen
            assert isinstance(form, Form), (form, app.message)
            for k, v in values.items():
                form.query_one(f"#field-{k}").value = v
            form.query("Input").last().focus()
            return await timed("enter")

        filters = [await through_form("slash", text=text, owner="", source="") for text in FILTERS]
        filters.append(await through_form("slash", text="", owner="seller03", source=""))
        filters.append(await through_form("slash", text="", owner="", source=""))  # back to everything
        moves = []
        for i in range(10):
            moves.append(await through_form("m", stage=str(2 + i % 3)))
    store.dispose()
    return {"opened": opened, "marked": marked, "cursor": cursor, "filter": filters, "move": moves}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = bigdb.DEFAULT_PATH.with_name(f"ui-open-{args.deals}.db")
    if not path.exists():
        build(path, args.deals)
    work = path.with_name(path.stem + "-work.db")  # the moves change it: a fresh copy per run
    work.write_bytes(path.read_bytes())
    board = pipecli_board(work, args.repeat)
    print(f"{args.deals:,} open deals ({work})")
    print(f"  pipecli board (whole command, best of {args.repeat}): {board * 1000:8.0f} ms")
    empty = asyncio.run(drive(work, (80, 24), args.keys, floor=True))
    print(
        f"  floor: an empty textual app: open {empty['opened'] * 1000:.0f} ms, key p95 {p95(empty['cursor']) * 1000:.1f} ms"
    )
    for size in ((80, 24), (200, 50)):
        got = asyncio.run(drive(work, size, args.keys))
        print(f"  ui {size[0]}x{size[1]}:")
        print(f"    open to first screen (target 1500 ms):   {got['opened'] * 1000:8.0f} ms")
        print(
            f"    stale marks from clean (own process):     {got['marked'] * 1000:8.0f} ms (the board is usable meanwhile)"
        )
        for what in ("cursor", "filter", "move"):
            samples = got[what]
            print(
                f"    keypress {what:<6} p95 (target 100 ms):    {p95(samples) * 1000:8.1f} ms"
                f"  (median {statistics.median(samples) * 1000:.1f} ms, {len(samples)} presses)"
            )
        each = [*(f"{t!r}" for t in FILTERS), "owner", "none"]
        print("    each filter: " + ", ".join(f"{w} {t * 1000:.0f}" for w, t in zip(each, got["filter"], strict=True)))
    work.unlink()


if __name__ == "__main__":
    main()
