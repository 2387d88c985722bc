"""The app's modal screens: a form of labelled fields (every prompt: move, add, edit, log, filter...) and a
scrollable page of text (the deal, today, clean, forecast, help, a command's output)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class Form(ModalScreen[dict[str, str] | None]):
    """Labelled inputs; Enter moves to the next field and submits on the last, Escape cancels (None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    Form { align: center middle; }
    Form > Vertical { width: 70; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                      padding: 0 1; background: $surface; }
    Form Input { height: 1; border: none; padding: 0; }
    Form .hint { color: $text-muted; }
    """

    def __init__(self, title: str, fields: list[tuple[str, str, str]], hint: str = ""):
        """`fields`: (key, label, initial value) in order."""
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text, style="bold"))
            if self.hint:
                yield Label(Text(self.hint), classes="hint")
            for key, label, value in self.fields:
                yield Label(Text(label))
                yield Input(value=value, id=f"field-{key}")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        at = inputs.index(event.input)
        if at + 1 < len(inputs):
            inputs[at + 1].focus()
        else:
            self.dismiss({key: self.query_one(f"#field-{key}", Input).value for key, _, _ in self.fields})

    def action_cancel(self) -> None:
        self.dismiss(None)


class Page(ModalScreen[None]):
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
