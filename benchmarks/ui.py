"""`pipecli ui` speed on 100,000 open deals: the time to open the board and the 95th percentile of a
keypress's re-render (cursor, filter, move; the edit form and the deal's page opening too), with textual's
headless driver, printed beside the wall time of `pipecli board` on the same database. Targets (issue 18):
open ≤ 1.5 s, keypress p95 ≤ 100 ms. Each figure is wall time and, beside it, the CPU time the process spent
meanwhile (the machine's load shows in the gap).

The filter applies as it is typed, once typing stops (`app.FILTER_IDLE`): its figure is the apply, from the
idle timer's firing to the frame that shows the filtered board; each typed key's own frame (the field's
echo) and the Enter that closes the form are printed beside it, and a user waits FILTER_IDLE + the apply
from the last key.

The database is built once with the standard sqlite3 module on pipecli's own schema: N open deals spread
over the default pipeline's five open stages, each with its creation stage_change row, a value, an owner,
a source, half of them with a next step (some overdue), entered their stage up to 90 days ago.

    python benchmarks/ui.py [--deals 100000] [--keys 200] [--profile filter|move]

With --profile, the filter's applies or the moves are run under cProfile at 200x50 and the functions taking
the most time printed (textual's rendering, our SQL, our Python).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import statistics
import subprocess
import time
from pathlib import Path

import bigdb
from common import DAY, best, freeze, new_database, pipecli

freeze()
# the filters timed, in order, then owner=seller03 alone and no filter: "lead" matches every deal, the others
# 11,112, 1,111 and 111 of 100,000 (the names are "Lead N")
FILTERS = ("lead 1", "lead 22", "lead 333", "lead")


def build(path: Path, n: int) -> None:
    """Create the database at `path` with `n` open deals (see the module docstring)."""
    from pipecli import clock

    db, now = new_database(path.with_suffix(".building"))
    db.execute("BEGIN")  # one transaction for the bulk insert
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
    path.with_suffix(".building").rename(path)


def pipecli_board(path: Path, repeat: int) -> float:
    """Return the best wall time of `pipecli board` on the database, as a subprocess."""
    command = pipecli(path, "board")
    return best(lambda: subprocess.run(command, stdout=subprocess.DEVNULL, check=True), repeat)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


Sample = tuple[float, float]  # a key's wall time and the CPU time meanwhile, in seconds


async def drive(
    path: Path, size: tuple[int, int], keys: int, floor: bool = False, profile: str = ""
) -> dict[str, list[Sample]]:
    """Open the app headless at `size` and time its opening and its keypresses: a key's time runs from
    the key's arrival to the end of the last frame the app composes for it for the terminal (`App._display`,
    which the headless driver then skips writing), so it is what a user waits, not Pilot's settling. With `floor`, the same key loop on
    an empty textual app that repaints one line per key: textual's own cost."""
    from textual.app import App
    from textual.widgets import Static

    from pipecli.pipelines import open_store
    from pipecli.ui import app as board_app
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
        frames: list[tuple[float, float]] = []
        real_display = app._display
        profiler = cProfile.Profile()

        def display(screen, renderable) -> None:
            if renderable is not None:  # a frame: what a terminal driver would write
                frames.append((time.perf_counter(), time.process_time()))
            real_display(screen, renderable)

        app._display = display  # type: ignore[method-assign]

        def since(seen: int, t: float, c: float) -> Sample:
            return (frames[-1][0] - t, frames[-1][1] - c) if len(frames) > seen else (0.0, 0.0)

        async def timed(key: str, profiled: bool = False) -> Sample:
            await pilot.pause()
            seen = len(frames)
            t, c = time.perf_counter(), time.process_time()
            if profiled:
                profiler.enable()
            await pilot.press(key)  # returns once the app is idle again: the key's frames are composed
            if profiled:
                profiler.disable()
            return since(seen, t, c)

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
            return {"opened": [(opened, 0.0)], "cursor": cursor}
        got: dict[str, list[Sample]] = {"opened": [(opened, 0.0)], "marked": [(marked, 0.0)], "cursor": cursor}
        for what in ("form", "typing", "filter", "enter", "move"):
            got[what] = []

        async def open_form(key: str) -> Form:
            got["form"].append(await timed(key))
            form = app.screen
            assert isinstance(form, Form), (form, app.message)
            for field in form.query("Input"):
                field.cursor_blink = False  # a blink is a frame of its own
            return form

        applies: list[tuple[float, float]] = []
        real_apply = app.apply_filter

        def apply_filter(flt) -> None:
            applies.append((time.perf_counter(), time.process_time()))
            if profile == "filter":
                profiler.enable()
            real_apply(flt)
            if profile == "filter":
                profiler.disable()

        app.apply_filter = apply_filter  # type: ignore[method-assign]

        async def filter_by(field: str, typed: str) -> None:
            """Open the filter form, empty it, type `typed` into `field` a key at a time, wait for the
            filter to apply, close the form with Enter."""
            form = await open_form("slash")
            for k in ("text", "owner", "source"):
                form.query_one(f"#field-{k}").value = ""
            form.query_one(f"#field-{field}").focus()
            for char in typed:
                got["typing"].append(await timed("space" if char == " " else char))
            seen, before = len(frames), len(applies)
            await asyncio.sleep(board_app.FILTER_IDLE * 2)
            await pilot.pause()
            assert len(applies) > before, "the filter did not apply after typing stopped"
            t, c = applies[-1]
            got["filter"].append(since(seen, t, c))
            form.query("Input").last().focus()  # Enter on the last field closes the form
            got["enter"].append(await timed("enter"))
            assert not isinstance(app.screen, Form), "the filter form did not close"

        for text in FILTERS:
            await filter_by("text", text)
        await filter_by("owner", "seller03")
        await filter_by("text", "")  # back to everything
        for i in range(10):
            form = await open_form("m")
            form.query_one("#field-stage").value = str(2 + i % 3)
            got["move"].append(await timed("enter", profiled=profile == "move"))
        got["edit"], got["deal"] = [], []
        for _ in range(10):  # the edit form (the deal read again, eight fields) and the deal's page, on new cards
            await timed("j")
            got["edit"].append(await timed("e"))
            assert isinstance(app.screen, Form), (app.screen, app.message)
            await timed("escape")
            got["deal"].append(await timed("enter"))
            assert not isinstance(app.screen, Form) and app.screen is not app.screen_stack[0], app.message
            await timed("escape")
    store.dispose()
    if profile:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
    return got


def figures(samples: list[Sample]) -> str:
    """Return the p50 and p95 of `samples`, wall and CPU, in ms."""
    wall, cpu = [s[0] for s in samples], [s[1] for s in samples]
    return (
        f"p50 {statistics.median(wall) * 1000:6.1f}  p95 {p95(wall) * 1000:6.1f} ms wall"
        f"  (CPU p50 {statistics.median(cpu) * 1000:5.1f}  p95 {p95(cpu) * 1000:5.1f}; {len(samples)} presses)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", choices=("filter", "move"), default="")
    parser.add_argument("--size", action="append", help="WxH to run at (repeatable; default 80x24 and 200x50)")
    args = parser.parse_args()
    path = bigdb.DEFAULT_PATH.with_name(f"ui-open-{args.deals}.db")
    if not path.exists():
        build(path, args.deals)
    work = path.with_name(path.stem + "-work.db")  # the moves change it: a fresh copy per run
    work.write_bytes(path.read_bytes())
    print(f"load before: {os.getloadavg()[0]:.2f} (1-minute average, {os.cpu_count()} cores)")
    if args.profile:
        asyncio.run(drive(work, (200, 50), args.keys // 10, profile=args.profile))
        work.unlink()
        return
    board = pipecli_board(work, args.repeat)
    print(f"{args.deals:,} open deals ({work})")
    print(f"  pipecli board (whole command, best of {args.repeat}): {board * 1000:8.0f} ms")
    empty = asyncio.run(drive(work, (80, 24), args.keys, floor=True))
    print(f"  floor: an empty textual app: open {empty['opened'][0][0] * 1000:.0f} ms, key {figures(empty['cursor'])}")
    names = {
        "cursor": "cursor (target 100 ms)",
        "filter": "filter apply (target 100 ms)",
        "move": "move Enter (target 100 ms)",
        "typing": "a key typed in a form",
        "enter": "filter Enter (form closes)",
        "form": "a form opens (/ or m)",
        "edit": "the edit form opens (e)",
        "deal": "the deal's page opens (Enter)",
    }
    sizes = [tuple(int(n) for n in s.split("x")) for s in args.size or ["80x24", "200x50"]]
    for size in sizes:
        got = asyncio.run(drive(work, size, args.keys))
        print(f"  ui {size[0]}x{size[1]}:")
        print(f"    open to first screen (target 1500 ms):   {got['opened'][0][0] * 1000:8.0f} ms")
        print(
            f"    workers done (clean's stale marks in their own process, the filter keys, the imports a first"
            f" change needs): {got['marked'][0][0] * 1000:.0f} ms (the board is usable meanwhile)"
        )
        for what, name in names.items():
            print(f"    {name:<30} {figures(got[what])}")
        each = [*(f"{t!r}" for t in FILTERS), "owner", "none"]
        shown = ", ".join(f"{w} {t[0] * 1000:.0f}" for w, t in zip(each, got["filter"], strict=True))
        print(f"    each filter's apply (ms): {shown}; a user waits FILTER_IDLE {board_idle() * 1000:.0f} ms more")
        print("    each move (ms, wall/CPU): " + ", ".join(f"{w * 1000:.0f}/{c * 1000:.0f}" for w, c in got["move"]))
    print(f"load after: {os.getloadavg()[0]:.2f}")
    work.unlink()


def board_idle() -> float:
    from pipecli.ui.app import FILTER_IDLE

    return FILTER_IDLE


if __name__ == "__main__":
    main()
