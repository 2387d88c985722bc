"""The one table of the board's keys: the app's bindings and the `?` help screen are both made from it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    """One binding: the keys (textual's names, comma-separated), the action it runs, what the help says."""

    keys: str
    action: str
    help: str
    shown: str  # the keys as the help screen and footer print them


KEYS: tuple[Key, ...] = (
    Key("h,left", "cursor(-1, 0)", "previous stage", "h ←"),
    Key("l,right", "cursor(1, 0)", "next stage", "l →"),
    Key("k,up", "cursor(0, -1)", "previous card", "k ↑"),
    Key("j,down", "cursor(0, 1)", "next card", "j ↓"),
    Key("m", "move", "move the deal to a stage (number or name; won/lost ask value/reason)", "m"),
    Key("less_than_sign", "step(-1)", "move the deal one stage back", "<"),
    Key("greater_than_sign", "step(1)", "move the deal one stage forward", ">"),
    Key("enter", "open", "open the deal: details, history, activities, score, win probability", "Enter"),
    Key("L", "log", "log an activity (and the next step)", "L"),
    Key("n", "next_step", "set the next step and its date", "n"),
    Key("s", "snooze", "snooze the deal (left out of clean until then)", "s"),
    Key("e", "edit", "edit the deal's details", "e"),
    Key("a", "add", "add a lead (the same checks as add-lead)", "a"),
    Key("slash", "filter", "filter by text, owner, source", "/"),
    Key("p", "pipeline", "switch pipeline", "p"),
    Key("u", "undo", "undo the last change (again: redo it)", "u"),
    Key("t", "today", "today's work", "t"),
    Key("c", "clean", "the clean queue (stale deals)", "c"),
    Key("f", "forecast", "the forecast for the next periods", "f"),
    Key("colon", "palette", "run any pipecli command line", ":"),
    Key("question_mark", "help", "these keys", "?"),
    Key("q", "quit", "quit", "q"),
)

# The clean queue's own keys (the page `c` opens): act on the finding under its cursor, as `clean` would.
QUEUE_KEYS: tuple[Key, ...] = (
    Key("k,up", "cursor(-1)", "previous finding", "k ↑"),
    Key("j,down", "cursor(1)", "next finding", "j ↓"),
    Key("x", "act('close-lost')", "close the deal as lost (asks the reason)", "x"),
    Key("s", "act('snooze')", "snooze the deal (asks for how long and why)", "s"),
    Key("a", "act('archive')", "archive the deal (asks the reason)", "a"),
    Key("escape,q", "close", "back to the board", "Esc q"),
)


def help_lines() -> list[str]:
    """Return the help screen's lines: each binding's keys and what it does, in table order, then the clean
    queue's."""
    width = max(len(k.shown) for k in KEYS + QUEUE_KEYS)
    lines = [f"{k.shown:<{width}}  {k.help}" for k in KEYS]
    return [*lines, "", "On the clean queue (c):", *(f"{k.shown:<{width}}  {k.help}" for k in QUEUE_KEYS)]


def queue_hint() -> str:
    """Return the clean queue's one-line reminder of its keys."""
    return " · ".join(f"{k.shown} {k.help.split(' (')[0]}" for k in QUEUE_KEYS[2:])
