"""The board app: a column per open stage, a cursor over the cards, the keys of `ui.keys`.

Each column keeps its own scroll position (`top`) and a cached window of cards around it; moving past the
window reads the next one (`cards.window`), so nothing off screen beyond a margin is ever loaded. A filter
is read once (`cards.Matches`) and its windows cut from it. A change to one deal made here re-reads only that
deal and the headers of the stages it left and entered, and redraws only those columns (`changed`); any
other change (undo, an add, the palette, another terminal) reloads every header. The app polls the
database's change counter every POLL seconds (a timer, no busy loop) and reloads when another terminal or
cron changed something. Which deals are stale is `clean`'s judgement (`cards.stale_ids`), computed in a
worker thread so the board opens without it, a moment after the last change (STALE_DELAY).

The filter applies as it is typed, once typing stops for FILTER_IDLE seconds (the board behind the form
shows it; Enter keeps it, Escape puts back the one before), matched on the filter keys read once in a worker
after the board opens (`cards.SearchIndex`; in SQL until they are read, or on a bigger board). The modules
a first change needs (the journal's schema: SQLModel and pydantic) are imported in that worker too, so the
first move is as quick as the next. Once they are in, the interpreter's garbage collector is run and what
survives it frozen (`settle_memory`): a full collection walks every object the app holds (a tenth of a
second with the keys and textual loaded) and would otherwise fall in the middle of a keypress.
"""

from __future__ import annotations

import gc
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import ClassVar, Self

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from sqlalchemy.engine import Connection
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.geometry import Region
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from pipecli import leads, money, nextsteps, pipelines
from pipecli.errors import PipecliError
from pipecli.reports import clean, forecast
from pipecli.scoring import score as scoring
from pipecli.ui import cards, keys, views
from pipecli.ui.actions import LEAD_FIELDS, Session
from pipecli.ui.screens import Form, Page, Queue

POLL = 2.0  # seconds between looks at the change counter
MIN_COLUMN = 26  # the narrowest a column gets: 3 columns on 80, all stages from 200
HEADER_LINES = 2  # a column's header: its name, its count and value
# From this many open deals `clean`'s judgement runs in its own process: it is seconds of Python over the
# rows, which in a thread would hold the interpreter (and so the keys) for as long.
BIG_PIPELINE = 5000
STALE_DELAY = 1.0  # seconds after the last change before clean judges again: a run of moves costs one judgement
FILTER_IDLE = 0.25  # seconds without typing in the filter form before the board shows the filter


@dataclass
class ColumnState:
    """One column's cursor, scroll position and cached window of cards."""

    stage: cards.Stage
    cursor: int = 0  # the selected card's index in the stage's (filtered) order
    top: int = 0  # the first card on screen
    offset: int = 0  # the cached window's first index
    cached: list[cards.Card] = field(default_factory=list)
    loaded: bool = False


@lru_cache(maxsize=64)
def _style(name: str) -> Style:
    """Return the rich Style a column line names ('' is none), parsed once per name."""
    return Style.parse(name) if name else Style()


class StageColumn(Widget):
    """One stage's column: its header and the cards that fit, the selected one highlighted."""

    # The column's right edge is drawn with its lines (a CSS border costs textual a third of a frame's time).
    DEFAULT_CSS = """
    StageColumn { width: 1fr; height: 100%; }
    StageColumn > .stage-column--edge { color: $primary-darken-2; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"stage-column--edge"}
    EDGE = "▕"

    strips: list[Strip] | None = None  # the lines drawn, until the next refresh

    def __init__(self, index: int):
        super().__init__(id=f"stage-{index}")
        self.index = index

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False) -> Self:
        self.strips = None  # whatever asks for a repaint may have changed what the column shows
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def render_line(self, y: int) -> Strip:
        """Return line `y` of the column, drawing all its lines once per refresh as plain segments (a rich
        Text per column cost most of a key's frame)."""
        width, height = self.size
        if self.strips is None or len(self.strips) != height or (self.strips and self.strips[0].cell_length != width):
            board: BoardApp = self.app  # type: ignore[assignment]
            base = self.rich_style
            inner = max(width - 1, 0)
            edge = Segment(self.EDGE, base + self.get_component_rich_style("stage-column--edge", partial=True))
            lines = board.column_lines(self.index, inner, height)
            self.strips = []
            for text, style in lines:
                line = Segment(text, base + _style(style))
                if cell_len(text) == inner:  # a card's lines come padded to the width: one strip, built once
                    self.strips.append(Strip([line, edge], width))
                else:
                    self.strips.append(Strip([*Strip([line]).adjust_cell_length(inner, base), edge], width))
            self.strips += [Strip([Segment(" " * inner, base), edge], width)] * (height - len(self.strips))
        return self.strips[y] if y < len(self.strips) else Strip.blank(width, self.rich_style)

    def on_click(self, event: events.Click) -> None:
        board: BoardApp = self.app  # type: ignore[assignment]
        if event.y >= HEADER_LINES:
            board.select(self.index, (event.y - HEADER_LINES) // views.CARD_HEIGHT)


class BoardApp(App[None]):
    """`pipecli ui`: the board of one pipeline, driven from the keyboard."""

    TITLE = "pipecli"
    CSS = """
    #title { height: 1; background: $primary; color: $text; padding: 0 1; }
    #board { height: 1fr; }
    #status { height: 1; background: $panel; padding: 0 1; }
    #status.error { background: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding(k.keys, k.action, k.help, show=False) for k in keys.KEYS]

    def __init__(self, session: Session, pipeline: str | None = None, owner: str | None = None, poll: float = POLL):
        super().__init__()
        self.session = session
        self.poll_seconds = poll
        self.filter = cards.Filter(owner=owner)
        with session.read() as conn:
            self.pipeline = cards.pipeline_of(conn, pipeline)
            self.counter = cards.change_counter(conn)
        self.columns: list[ColumnState] = []
        self.col = 0  # the cursor's column
        self.left = 0  # the first column on screen
        self.stale: set[int] = set()
        self.matches: cards.Matches | None = None  # what the filter lets through, when there is one
        self.stale_timer: Timer | None = None
        self.filter_timer: Timer | None = None  # the filter typed, applied when typing stops
        self.filter_before = self.filter  # the filter when the form opened: Escape puts it back
        self.search: cards.SearchIndex | None = None  # the open deals' filter keys, once read
        self.search_generation = 0  # moved on by every reload: a keys read started before it is out of date
        self.search_pending = False  # a read of the filter keys is running
        self.filter_form: Form | None = None  # the filter form, while it is open
        self.judge = cards.StaleJudge()  # a big pipeline's judgement, in its own process
        self.queue_report: clean.Report | None = None  # what the open clean queue shows
        self.message = ""
        self.error = False

    # --- layout ------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Horizontal(id="board")
        yield Static(id="status")

    async def on_mount(self) -> None:
        self.session.hold()
        await self.rebuild()
        self.set_interval(self.poll_seconds, self.poll)

    def on_unmount(self) -> None:
        gc.unfreeze()  # what settle_memory froze is the collector's again
        self.judge.stop()
        self.session.release()

    async def rebuild(self) -> None:
        """Read the headers and lay out one column widget per open stage (the pipeline may have changed)."""
        self.read_search()
        self.load_headers()
        board = self.query_one("#board", Horizontal)
        await board.remove_children()
        await board.mount_all([StageColumn(i) for i in range(len(self.columns))])
        self.col = min(self.col, max(len(self.columns) - 1, 0))
        self.layout_columns()
        self.judge_stale()  # at once: nothing changes yet that a delay would wait for

    def load_headers(self, same_stages: bool = False) -> None:
        """Read every column's header; keep each column's cursor where it was (bounded by its new count).
        With `same_stages` (a new filter: nothing changed in the database) and the filter keys in, the
        columns' stages are kept and their headers counted from the keys, with no read at all."""
        self.matches = None
        if self.filter.active and self.search is not None:
            self.matches = self.search.matches(self.filter)
        if same_stages and self.search is not None and self.columns:
            counted = self.matches if self.matches is not None else self.search
            stages = []
            for c in self.columns:
                count, value = counted.header(c.stage.id)
                stages.append(replace(c.stage, count=count, value_minor=value))
        else:
            with self.session.read() as conn:
                if self.filter.active and self.matches is None:
                    self.matches = cards.Matches.read(conn, self.pipeline["id"], self.filter)
                stages = cards.stages(conn, self.pipeline["id"], self.filter, self.matches)
        before = {c.stage.id: c for c in self.columns}
        self.columns = []
        for s in stages:
            old = before.get(s.id)
            state = ColumnState(s, old.cursor, old.top) if old else ColumnState(s)
            state.cursor = min(state.cursor, max(s.count - 1, 0))
            state.top = min(state.top, state.cursor)
            self.columns.append(state)

    def visible_columns(self) -> int:
        """Return how many columns fit the terminal's width (at least one)."""
        return max(1, min(len(self.columns), self.size.width // MIN_COLUMN))

    def layout_columns(self) -> None:
        """Show the columns that fit, keeping the cursor's column on screen."""
        shown = self.visible_columns()
        if self.col < self.left:
            self.left = self.col
        elif self.col >= self.left + shown:
            self.left = self.col - shown + 1
        self.left = max(0, min(self.left, len(self.columns) - shown))
        for widget in self.query(StageColumn):
            widget.display = self.left <= widget.index < self.left + shown
            widget.refresh()
        self.show_title()

    def on_resize(self, event: events.Resize) -> None:
        self.layout_columns()

    def show_title(self) -> None:
        count = sum(c.stage.count for c in self.columns)
        value = sum(c.stage.value_minor for c in self.columns)
        shown = self.filter.describe()
        text = f"{self.pipeline['name']}: {count} open · {money.fmt(value, self.session.currency)}"
        title = Text(text + (f" · filter {shown}" if shown else "") + " · ? keys")
        self.query_one("#title", Static).update(title, layout=False)  # one line: no new layout

    def status(self, message: str, error: bool = False) -> None:
        """Show one line in the status bar (an error in the error colour)."""
        self.message, self.error = message, error
        bar = self.query_one("#status", Static)
        bar.set_class(error, "error")
        bar.update(Text(views.fit(message, max(self.size.width - 2, 10))), layout=False)  # one line: no new layout

    # --- what a column shows ----------------------------------------------------------------------

    def rows_on_screen(self, height: int) -> int:
        return max(1, (height - HEADER_LINES) // views.CARD_HEIGHT)

    def cards_of(self, index: int, first: int, count: int) -> list[cards.Card]:
        """Return cards `first`..`first+count` of column `index`, reading a new window when the cache misses."""
        c = self.columns[index]
        end = min(first + count, c.stage.count)
        if not c.loaded or first < c.offset or end > c.offset + len(c.cached):
            with self.session.read() as conn:
                self._read_window(conn, c, first, count)
        return c.cached[first - c.offset : end - c.offset]

    def _read_window(self, conn: Connection, c: ColumnState, first: int, count: int) -> None:
        """Read column `c`'s cached window around cards `first`..`first+count`, a margin either side."""
        margin = max(count, 10)
        c.offset = max(0, first - margin)
        if self.matches is not None:
            c.cached = cards.cards_by_id(conn, self.matches.ids(c.stage.id, c.offset, count + 2 * margin))
        else:
            c.cached = cards.window(conn, self.pipeline["id"], c.stage.id, self.filter, c.offset, count + 2 * margin)
        c.loaded = True

    def read_windows(self) -> None:
        """Read the window of every column on screen that has none, all in one read (after a new filter,
        whose columns would otherwise each open a connection of their own as they are drawn)."""
        height = self.query_one("#board", Horizontal).size.height
        shown = range(self.left, min(self.left + self.visible_columns(), len(self.columns)))
        wanted = [self.columns[i] for i in shown if not self.columns[i].loaded]
        if height <= 0 or not wanted:
            return
        rows = self.rows_on_screen(height)
        with self.session.read() as conn:
            for c in wanted:
                self._scroll(c, rows)
                self._read_window(conn, c, c.top, rows)

    @staticmethod
    def _scroll(c: ColumnState, rows: int) -> None:
        """Scroll column `c`, `rows` cards high, just enough to show its cursor."""
        if c.cursor < c.top:
            c.top = c.cursor
        elif c.cursor >= c.top + rows:
            c.top = c.cursor - rows + 1

    def column_lines(self, index: int, width: int, height: int) -> list[tuple[str, str]]:
        """Return the lines of column `index` at `width`×`height` with their styles: the header, then the
        cards that fit (the selected one in reverse video, the third line coloured by its marks)."""
        if index >= len(self.columns):
            return []
        c = self.columns[index]
        name = f"{c.stage.position}. {c.stage.name}"
        header = f"{c.stage.count} · {money.fmt_short(c.stage.value_minor, self.session.currency)}"
        out = [
            (views.fit(name, width), "bold reverse" if index == self.col else "bold"),
            (views.fit(header, width), ""),
        ]
        rows = self.rows_on_screen(height)
        self._scroll(c, rows)
        for n, card in enumerate(self.cards_of(index, c.top, rows)):
            selected = index == self.col and c.top + n == c.cursor
            stale = card.id in self.stale
            for i, line in enumerate(views.card_lines(card, stale, width, self.session.currency)):
                style = "reverse" if selected else ""
                if i == 2 and not selected:
                    style = "red" if stale or card.overdue else ("yellow" if card.no_next_step else "dim")
                out.append((f"{line:<{width}}", style))
        return out

    def selected(self) -> cards.Card | None:
        """Return the card under the cursor (None in an empty column)."""
        if not self.columns:
            return None
        c = self.columns[self.col]
        if c.stage.count == 0:
            return None
        got = self.cards_of(self.col, c.cursor, 1)
        return got[0] if got else None

    def redraw(self) -> None:
        for widget in self.query(StageColumn):
            widget.refresh()
        self.show_title()

    def select(self, index: int, row: int) -> None:
        """Put the cursor on the `row`-th card on screen of column `index` (a mouse click)."""
        c = self.columns[index]
        self.col = index
        c.cursor = max(0, min(c.top + row, c.stage.count - 1))
        self.layout_columns()

    # --- reloading ---------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the headers again and drop every cached window (after a change, here or elsewhere)."""
        self.read_search()  # any deal may have changed
        self.load_headers()
        with self.session.read() as conn:
            self.counter = cards.change_counter(conn)
        self.layout_columns()
        self.refresh_stale()

    def read_search(self) -> None:
        """Have the filter keys (`cards.SearchIndex`) read again in a worker; until they are, filters are
        matched in SQL."""
        self.search, self.search_pending = None, True
        self.search_generation += 1
        self._read_search(self.search_generation)

    @work(thread=True, exclusive=True, group="search")
    def _read_search(self, generation: int) -> None:
        # the journal's schema (SQLModel, pydantic: a second), which every write imports: here, off the
        # event loop, so the first change does not wait for it
        import pipecli.store.schema  # noqa: F401

        try:
            with self.session.read() as conn:
                found = cards.SearchIndex.read(conn, self.pipeline["id"])
        except PipecliError:  # the board's own reads show the error; the filter is matched in SQL meanwhile
            return
        self.call_from_thread(self._set_search, found, generation)

    def _set_search(self, found: cards.SearchIndex | None, generation: int) -> None:
        if generation == self.search_generation:  # no change since the read began
            self.search, self.search_pending = found, False
            self.settle_memory()

    @staticmethod
    def settle_memory() -> None:
        """Collect the garbage now and freeze what survives (the modules, textual's widgets, the filter
        keys): the collector's full passes, each a walk over every object, then skip them and stay short."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def changed(self, lead_id: int, was: int | None, value: int | None = None) -> None:
        """Show a change to one deal made here (it was in stage `was` with `value`, None when not on the
        board): read the deal again, move the headers of the stages it left and entered on by its value
        (nothing else changed since they were read: `attempt` checked) and redraw only those columns."""
        with self.session.read() as conn:
            now = cards.place_of(conn, self.pipeline["id"], lead_id, self.filter)
            counter = cards.change_counter(conn)
            # not this change's one journal entry alone, or new leads: another wrote too
            if counter[0] != self.counter[0] + 1 or counter[2] != self.counter[2]:
                fresh = None
            else:
                if self.matches is not None:
                    self.matches.place(lead_id, was, now, value)
                if self.search is not None:
                    self.search.update(conn, self.pipeline["id"], lead_id, was, value)
                elif self.search_pending:  # the read of the keys still running may have missed this change
                    self.read_search()
                fresh = self.shifted(was, value, now)
        if fresh is None:
            self.reload()
            return
        self.counter = counter
        for index, c in enumerate(self.columns):
            if c.stage.id in fresh:
                c.stage = fresh[c.stage.id]
                c.cursor = min(c.cursor, max(c.stage.count - 1, 0))
                c.loaded = False
                self.query_one(f"#stage-{index}", StageColumn).refresh()
        self.show_title()
        self.refresh_stale()

    def shifted(self, was: int | None, value: int | None, now: tuple[int, int | None] | None) -> dict[int, cards.Stage]:
        """Return the headers of the stages a deal left (`was`, with `value`) and entered (`now`: its stage
        and value, None when it left the board): counted from the filter's matches when there is one, else
        the headers shown, moved on by one deal and its value."""
        shown = {c.stage.id: c.stage for c in self.columns}
        fresh: dict[int, cards.Stage] = {}
        if self.matches is not None:
            for s in {s for s in (was, now[0] if now else None) if s is not None} & shown.keys():
                count, total = self.matches.header(s)
                fresh[s] = replace(shown[s], count=count, value_minor=total)
            return fresh
        if was in shown:
            head = shown[was]
            fresh[was] = replace(head, count=head.count - 1, value_minor=head.value_minor - (value or 0))
        if now is not None and now[0] in shown:
            head = fresh.get(now[0], shown[now[0]])
            fresh[now[0]] = replace(head, count=head.count + 1, value_minor=head.value_minor + (now[1] or 0))
        return fresh

    def poll(self) -> None:
        """Reload when the database's change counter moved (another terminal, cron)."""
        try:
            with self.session.read() as conn:
                counter = cards.change_counter(conn)
        except PipecliError as exc:
            self.status(str(exc), error=True)
            return
        if counter != self.counter:
            self.reload()

    def refresh_stale(self) -> None:
        """Have `clean` judge the deals again STALE_DELAY seconds from now (a later call moves it on)."""
        if self.stale_timer is not None:
            self.stale_timer.stop()
        self.stale_timer = self.set_timer(STALE_DELAY, self.judge_stale)

    @work(thread=True, exclusive=True, group="stale")
    def judge_stale(self) -> None:
        """Ask `clean` which deals are stale, off the event loop (in a process for a big pipeline); mark
        them when it answers."""
        name = self.pipeline["name"]
        try:
            if sum(c.stage.count for c in self.columns) >= BIG_PIPELINE:
                judged = self.judge.ids(self.session.store.target, name)
                if judged is None:  # a later change started a new judgement: that one answers
                    return
                found = judged
            else:
                with self.session.read() as conn:
                    found = cards.stale_ids(conn, name)
        except PipecliError as exc:
            self.call_from_thread(self.status, str(exc), True)
            return
        self.call_from_thread(self._set_stale, found)

    def _set_stale(self, found: set[int]) -> None:
        self.stale = found
        self.redraw()

    # --- doing things ------------------------------------------------------------------------------

    def attempt(self, change: Callable[[], str], deal: tuple[int, int | None, int | None] | None = None) -> bool:
        """Run one change; show its line, or its error (the change was rolled back). A change to one `deal`
        (its id, stage and value) redraws what it touched when nothing else changed the database since the board
        last read it; any other change reloads the board."""
        try:
            with self.session.read() as conn:
                unseen = cards.change_counter(conn) != self.counter  # another terminal wrote meanwhile
            self.status(change())
        except PipecliError as exc:
            self.status(str(exc), error=True)
            return False
        if deal is None or unseen:
            self.reload()
        else:
            self.changed(*deal)
        return True

    def after(
        self, change: Callable[[dict[str, str]], str], deal: tuple[int, int | None, int | None] | None = None
    ) -> Callable[[dict[str, str] | None], None]:
        """Return a form's callback that makes `change` from the filled form (nothing when cancelled)."""

        def done(form: dict[str, str] | None) -> None:
            if form is not None:
                self.attempt(lambda: change(form), deal)

        return done

    def here(self, card: cards.Card) -> tuple[int, int | None, int | None]:
        """Return the selected `card`'s deal as `attempt` takes it: its id, the stage of its column, its value."""
        return card.id, self.columns[self.col].stage.id, card.value_minor

    def with_card(self) -> cards.Card | None:
        card = self.selected()
        if card is None:
            self.status("no deal here", error=True)
        return card

    def action_cursor(self, dx: int, dy: int) -> None:
        if not self.columns:
            return
        before, left = self.col, self.left
        self.col = max(0, min(self.col + dx, len(self.columns) - 1))
        c = self.columns[self.col]
        c.cursor = max(0, min(c.cursor + dy, c.stage.count - 1))
        shown = self.visible_columns()
        if left <= self.col < left + shown:  # no scrolling sideways: redraw only the columns that changed
            for index in {before, self.col}:
                self.query_one(f"#stage-{index}", StageColumn).refresh()
        else:
            self.layout_columns()

    def action_move(self) -> None:
        card = self.with_card()
        if card is None:
            return
        hint = " · ".join(f"{c.stage.position} {c.stage.name}" for c in self.columns) + " · won · lost"
        self.push_screen(Form(f"Move #{card.id} {card.name} to", [("stage", "stage", "")], hint), self._moving(card))

    def _moving(self, card: cards.Card) -> Callable[[dict[str, str] | None], None]:
        deal = self.here(card)

        def chosen(form: dict[str, str] | None) -> None:
            if not form:
                return
            try:
                target = self.session.resolve_stage(self.pipeline["id"], form["stage"])
            except PipecliError as exc:
                self.status(str(exc), error=True)
                return
            name = target["name"]
            if target["kind"] == "won":
                initial = (
                    "" if card.value_minor is None else str(money.to_decimal(card.value_minor, self.session.currency))
                )
                self.push_screen(
                    Form(f"Won #{card.id}: the value", [("value", "value", initial)]),
                    self.after(lambda f: self.session.move(card.id, name, value=f["value"]), deal),
                )
            elif target["kind"] == "lost":
                self.push_screen(
                    Form(f"Lost #{card.id}: why", [("reason", "reason", "")]),
                    self.after(lambda f: self.session.move(card.id, name, f["reason"]), deal),
                )
            else:
                self.attempt(lambda: self.session.move(card.id, name), deal)

        return chosen

    def action_step(self, delta: int) -> None:
        card = self.with_card()
        if card is not None:
            self.attempt(lambda: self.session.step(card.id, self.pipeline["id"], delta), self.here(card))

    def action_open(self) -> None:
        card = self.with_card()
        if card is None:
            return
        try:
            with self.session.read() as conn:
                info = leads.show_lead(conn, card.id)
                explained = scoring.explain(conn, card.id)
        except PipecliError as exc:
            self.status(str(exc), error=True)
            return
        self.push_screen(Page(f"Deal #{card.id}", views.deal_lines(info, explained, self.session.currency)))

    def action_log(self) -> None:
        card = self.with_card()
        if card is None:
            return
        fields = [("kind", "kind (call, email, meeting, demo, note...)", "call"), ("note", "note", "")]
        fields.append(("next", 'next step, optional: "2026-12-02 send proposal"', ""))
        self.push_screen(
            Form(f"Log on #{card.id} {card.name}", fields),
            self.after(lambda f: self.session.log(card.id, f["kind"], f["note"], f["next"]), self.here(card)),
        )

    def action_next_step(self) -> None:
        card = self.with_card()
        if card is None:
            return
        fields = [("due", "date (2026-12-02, tomorrow, in 3 days)", ""), ("step", "what to do", card.next_step or "")]
        self.push_screen(
            Form(f"Next step of #{card.id} {card.name}", fields),
            self.after(lambda f: self.session.next_step(card.id, f["due"], f["step"]), self.here(card)),
        )

    def action_snooze(self) -> None:
        card = self.with_card()
        if card is None:
            return
        fields = [("days", "for how many days (or until a date)", "7"), ("reason", "why it is stalled", "")]
        self.push_screen(
            Form(f"Snooze #{card.id} {card.name}", fields),
            self.after(lambda f: self.session.snooze(card.id, f["days"], f["reason"]), self.here(card)),
        )

    def action_edit(self) -> None:
        card = self.with_card()
        if card is None:
            return
        with self.session.read() as conn:
            lead = leads.get_lead(conn, card.id)
        before = {key: "" if lead.get(key) is None else str(lead[key]) for key in LEAD_FIELDS if key != "value"}
        before["value"] = (
            "" if lead["value_minor"] is None else str(money.to_decimal(lead["value_minor"], self.session.currency))
        )
        fields = [(key, key.replace("_", " "), before[key]) for key in LEAD_FIELDS]
        self.push_screen(
            Form(f"Edit #{card.id}", fields),
            self.after(lambda f: self.session.edit(card.id, f, before), self.here(card)),
        )

    def action_add(self) -> None:
        fields = [(key, key.replace("_", " ") + (" (required)" if key == "name" else ""), "") for key in LEAD_FIELDS]
        self.push_screen(Form(f"Add a lead to {self.pipeline['name']}", fields), self._adding)

    def _adding(self, form: dict[str, str] | None) -> None:
        if form is not None:
            self.attempt(lambda: self.session.add(form, self.pipeline["name"])[1])

    def action_filter(self) -> None:
        f = self.filter_before = self.filter
        fields = [("text", "name or company contains", f.text or ""), ("owner", "owner", f.owner or "")]
        fields.append(("source", "source", f.source or ""))
        title = "Filter the board (empty: everything; Enter keeps it, Escape undoes it)"
        self.filter_form = Form(title, fields, on_change=self._typing_filter)
        self.push_screen(self.filter_form, self._filtering)

    @staticmethod
    def _filter_of(form: dict[str, str]) -> cards.Filter:
        return cards.Filter(*(form[k].strip() or None for k in ("text", "owner", "source")))

    def _typing_filter(self, form: dict[str, str]) -> None:
        """Apply the filter form's values once typing stops for FILTER_IDLE seconds (a later key moves it on)."""
        if self.filter_timer is not None:
            self.filter_timer.stop()

        def idle() -> None:
            if self.filter_form is not None:  # still open: a closed form's filter was applied when it closed
                self.apply_filter(self._filter_of(form))

        self.filter_timer = self.set_timer(FILTER_IDLE, idle)

    def apply_filter(self, flt: cards.Filter) -> None:
        """Show the board through `flt` (nothing to do when it is the one shown). Nothing changed in the
        database: the headers and windows are read again, the stale marks and the counter stay."""
        if self.filter_timer is not None:
            self.filter_timer.stop()
            self.filter_timer = None
        if flt == self.filter:
            return
        self.filter = flt
        self.load_headers(same_stages=True)
        self.layout_columns()
        self.read_windows()
        self.status(f"filter: {self.filter.describe() or 'none'}")

    def _filtering(self, form: dict[str, str] | None) -> None:
        self.filter_form = None
        self.apply_filter(self.filter_before if form is None else self._filter_of(form))
        if form is not None:
            self.status(f"filter: {self.filter.describe() or 'none'}")

    def action_pipeline(self) -> None:
        with self.session.read() as conn:
            names = [p["name"] for p in pipelines.list_pipelines(conn)]
        self.push_screen(Form("Switch to pipeline", [("name", "pipeline", "")], " · ".join(names)), self._switching)

    async def _switching(self, form: dict[str, str] | None) -> None:
        if not form:
            return
        try:
            with self.session.read() as conn:
                self.pipeline = cards.pipeline_of(conn, form["name"].strip())
        except PipecliError as exc:
            self.status(str(exc), error=True)
            return
        self.columns, self.col, self.left, self.stale = [], 0, 0, set()
        await self.rebuild()
        self.status(f"pipeline {self.pipeline['name']}")

    def action_undo(self) -> None:
        self.attempt(self.session.undo)

    def action_today(self) -> None:
        self._page("Today", lambda conn: views.today_lines(nextsteps.todays_work(conn, self.pipeline["name"])))

    def action_clean(self) -> None:
        try:
            report = self.clean_report()
        except PipecliError as exc:
            self.status(str(exc), error=True)
            return
        self.push_screen(Queue("Clean queue", views.clean_lines(report.rows, self.session.currency), self._acting))
        self.queue_report = report

    def clean_report(self) -> clean.Report:
        """Return what `clean` finds in the board's pipeline now (the clean queue's rows)."""
        with self.session.read() as conn:
            return clean.find_stale(conn, self.pipeline["name"])

    def _acting(self, row: int, action: str) -> None:
        """Ask what `action` on the clean queue's `row` needs (the reason; for a snooze, the days too), then
        do it; the queue is read again and shows the result."""
        queue, report = self.screen, self.queue_report
        assert isinstance(queue, Queue) and report is not None  # only the open queue calls this
        found = report.rows[row]
        fields = [("reason", "reason (recorded in history)", "")]
        if action == "snooze":
            fields.insert(0, ("days", "for how many days", "7"))

        def change(form: dict[str, str]) -> str:
            return self.session.act_on_finding(report, found.lead_id, action, form["reason"], form.get("days", ""))

        def done(form: dict[str, str] | None) -> None:
            if form is None:
                return
            self.attempt(lambda: change(form))
            try:
                self.queue_report = self.clean_report()
            except PipecliError as exc:
                self.status(str(exc), error=True)
            rows = self.queue_report.rows if self.queue_report is not None else []
            queue.show(views.clean_lines(rows, self.session.currency), self.message, self.error)

        self.push_screen(Form(f"{action} #{found.lead_id} {found.name}", fields), done)

    def action_forecast(self) -> None:
        self._page(
            "Forecast",
            lambda conn: views.forecast_lines(forecast.forecast(conn, self.pipeline["name"]), self.session.currency),
        )

    def _page(self, title: str, lines: Callable[..., list[str]]) -> None:
        try:
            with self.session.read() as conn:
                shown = lines(conn)
        except PipecliError as exc:
            self.status(str(exc), error=True)
            return
        self.push_screen(Page(title, shown))

    def action_help(self) -> None:
        self.push_screen(Page("Keys", keys.help_lines()))

    def action_palette(self) -> None:
        self.push_screen(Form("Run a pipecli command", [("line", "pipecli", "")]), self._run_line)

    def _run_line(self, form: dict[str, str] | None) -> None:
        if not form or not form["line"].strip():
            return
        try:
            args = shlex.split(form["line"])
        except ValueError as exc:
            self.status(f"cannot read the command line: {exc}", error=True)
            return
        if args and args[0] == "pipecli":
            args = args[1:]
        if args[:1] == ["ui"]:
            self.status("already in the ui", error=True)
            return
        done = self.run_command(args)
        lines = (done.stdout + done.stderr).splitlines() or ["(no output)"]
        self.push_screen(Page(f"pipecli {shlex.join(args)} (exit {done.returncode})", lines))
        self.poll()

    def run_command(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        """Run `pipecli ARGS` on this database as its own process (its own transaction and journal entry)."""
        command = [sys.executable, "-m", "pipecli", "--db", self.session.store.target, *args]
        env = {**os.environ, "COLUMNS": str(max(self.size.width - 4, 40))}
        if self.session.actor:
            env["PIPECLI_USER"] = self.session.actor
        try:
            return subprocess.run(
                command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, env=env
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(command, 1, "", "the command ran over 120 s and was stopped")
