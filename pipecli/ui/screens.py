"""The app's modal screens: a form of labelled fields (every prompt: move, add, edit, log, filter...), a
scrollable page of text (the deal, today, forecast, help, a command's output) and a page with a cursor
over its rows whose keys act on the row under it (the clean queue)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import ClassVar, TypeVar

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import Vertical, VerticalScroll
from textual.renderables.background_screen import BackgroundScreen
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from pipecli.ui import keys


@lru_cache(maxsize=1024)
def _tinted(style: Style, color: Color) -> Style:
    """Return `style` tinted by `color` as textual's BackgroundScreen tints it (links and meta cleared)."""
    style = style.clear_meta_and_links()
    rich = Color.from_rich_color
    return style + Style.from_color(
        (rich(style.color) + color).rich_color if style.color is not None else None,
        (rich(style.bgcolor) + color).rich_color if style.bgcolor is not None else None,
    )


class TintedBoard(BackgroundScreen):
    """The board behind a form or page, dimmed as textual's BackgroundScreen dims it, each style's tint worked
    out once (`_tinted`) instead of once per segment: a full board is some two thousand segments in a dozen
    styles, and tinting each one was a third of the time a form took to open at 200x50."""

    @classmethod
    def process_segments(cls, segments: Iterable[Segment], color: Color) -> Iterable[Segment]:
        if color.a == 0:  # textual's own path: nothing to tint
            yield from super().process_segments(segments, color)
            return
        plain = Style()
        for text, style, control in segments:
            if control:
                yield Segment(text, style, control)
            else:
                yield Segment(text, _tinted(plain if style is None else style, color), control)


ResultType = TypeVar("ResultType")


class Modal(ModalScreen[ResultType]):
    """A modal screen that dims what is behind it through `TintedBoard`."""

    def render(self) -> RenderableType:
        shown = super().render()
        if type(shown) is BackgroundScreen:
            return TintedBoard(shown.screen, shown.color)
        return shown


class Form(Modal[dict[str, str] | None]):
    """Labelled inputs; Enter moves to the next field and submits on the last, Escape cancels (None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    Form { align: center middle; }
    Form > Vertical { width: 70; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                      padding: 0 1; background: $surface; }
    Form Input { height: 1; border: none; padding: 0; }
    Form .hint { color: $text-muted; }
    """

    def __init__(
        self,
        title: str,
        fields: list[tuple[str, str, str]],
        hint: str = "",
        on_change: Callable[[dict[str, str]], None] | None = None,
    ):
        """`fields`: (key, label, initial value) in order; `on_change` is handed the values after each edit
        of a field (the filter applies as it is typed)."""
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.hint = hint
        self.on_change = on_change

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text, style="bold"))
            if self.hint:
                yield Label(Text(self.hint), classes="hint")
            for key, label, value in self.fields:
                yield Label(Text(label))
                # "-valid" is the class textual's Input gives itself when its value is set (no validators): set
                # here, the Input's own set_class finds it there instead of restyling the unmounted widget
                # (a tenth of the edit form's opening)
                yield Input(value=value, id=f"field-{key}", classes="-valid")

    def values(self) -> dict[str, str]:
        """Return each field's value by its key."""
        return {key: self.query_one(f"#field-{key}", Input).value for key, _, _ in self.fields}

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.on_change is not None and self.is_mounted:
            self.on_change(self.values())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        at = inputs.index(event.input)
        if at + 1 < len(inputs):
            inputs[at + 1].focus()
        else:
            self.dismiss(self.values())

    def action_cancel(self) -> None:
        self.dismiss(None)


class Page(Modal[None]):
    """A page of text lines that scrolls; Escape or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "close"),
        Binding("j,down", "scroll(1)"),
        Binding("k,up", "scroll(-1)"),
    ]
    DEFAULT_CSS = """
    Page { align: center middle; }
    Page > VerticalScroll { width: 100%; height: 100%; border: round $accent; padding: 0 1; background: $surface; }
    """

    def __init__(self, title: str, lines: list[str]):
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text(self.title_text, style="bold"))
            yield Static(Text("\n".join(self.lines)), id="page-text")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, lines: int) -> None:
        self.query_one(VerticalScroll).scroll_relative(y=lines, animate=False)


class Queue(Page):
    """A page whose rows (the lines after the first) carry a cursor; its keys (`keys.QUEUE_KEYS`) hand the
    row under the cursor and the action to `act`, which answers with `show`."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding(k.keys, k.action, k.help) for k in keys.QUEUE_KEYS]
    DEFAULT_CSS = """
    Queue #queue-status { height: 1; background: $panel; }
    Queue #queue-status.error { background: $error; }
    """

    def __init__(self, title: str, lines: list[str], act: Callable[[int, str], None]):
        super().__init__(title, lines)
        self.act = act
        self.cursor = 0
        self.message, self.error = keys.queue_hint(), False

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static(id="queue-status")

    def on_mount(self) -> None:
        self.show(self.lines, self.message, self.error)

    @property
    def rows(self) -> int:
        return len(self.lines) - 1

    def show(self, lines: list[str], message: str, error: bool = False) -> None:
        """Show new `lines` (the cursor kept, bounded by the rows) and one status line."""
        self.lines, self.message, self.error = lines, message, error
        self.cursor = max(0, min(self.cursor, self.rows - 1))
        text = Text(lines[0] if lines else "")
        for n, line in enumerate(lines[1:]):
            text.append("\n")
            text.append(line, style="reverse" if n == self.cursor else "")
        self.query_one("#page-text", Static).update(text)
        bar = self.query_one("#queue-status", Static)
        bar.set_class(error, "error")
        bar.update(Text(message))

    def action_cursor(self, delta: int) -> None:
        self.cursor = max(0, min(self.cursor + delta, self.rows - 1))
        self.show(self.lines, self.message, self.error)

    def action_act(self, action: str) -> None:
        if self.rows > 0:
            self.act(self.cursor, action)
