"""The command-line layer: each command parses its options, calls one core function and hands the result
to one view (`cli.views`; the reports' in `cli.views_reports`), which writes it through the one output
layer (`cli.output`). The invocation's `cli.context.Context` holds the store and every decision about the
terminal.

Command modules import the core and the views inside their functions so that `pipecli --help` and
`--version` never import SQLAlchemy, pendulum or rich. The commands register on a typer app of their own
(`_declared`), and the root group (`PipecliGroup`) builds a command's options from its declaration only
when that command is used: `--help` lists the commands from their help texts, and a TAB builds the one
command it completes, instead of every command of pipecli at every start. A TAB in a command's words
(`pipecli show Ro<TAB>`) imports only the module that declares the command (`COMMANDS`).

A usage error (a value not among the choices, an unknown option or command, a missing or extra argument)
is one line on stderr, `pipecli list: --status: 'bogus' is not one of open, won, lost, all (pipecli list
-h for help)`, not click's usage block (`_usage_line`).

Exit codes: 0 success; 1 an error the message explains (unknown lead, bad value, refused change), or
`clean --check` found something; 2 a usage error, or a confirmation that could not be asked (pass
--yes); 66 the database is not there (a command that only reads creates none); 70 an internal error
(a bug: please report it).
"""

# no `from __future__ import annotations`: typer reads the root's annotations at every start, and
# evaluating them as strings (a compile() each) is start-up time

import inspect
import os
import re
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer.main
from typer import _click
from typer._click import exceptions as click_errors
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException
from typer.models import CommandInfo, TyperInfo

from pipecli import version
from pipecli.errors import EXIT_USAGE, PipecliError, UsageError

if TYPE_CHECKING:
    from typer._click.shell_completion import CompletionItem

    from pipecli.cli.context import Context

EXIT_INTERNAL = 70


class _Commands(MutableMapping[str, Any]):
    """The root's commands by name, in the order they were declared on `declared` (a typer app that is
    never converted as a whole), each converted to its click command the first time it is asked for:
    converting a command means reading its function's signature and building every option, so doing it
    for all of pipecli's commands at every start cost most of `--help` and of a TAB."""

    def __init__(self, declared: typer.Typer, group: TyperGroup, pretty_exceptions_short: bool) -> None:
        self._declared = _declared_names(declared)
        self._built: dict[str, Any] = {}
        self._group = group
        self._short = pretty_exceptions_short

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            declared = self._declared[name]  # KeyError: no such command
            if isinstance(declared, CommandInfo):
                self._built[name] = typer.main.get_command_from_info(
                    declared, pretty_exceptions_short=self._short, rich_markup_mode=self._group.rich_markup_mode
                )
            else:
                self._built[name] = typer.main.get_group_from_info(
                    declared,
                    pretty_exceptions_short=self._short,
                    rich_markup_mode=self._group.rich_markup_mode,
                    suggest_commands=self._group.suggest_commands,
                )
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:  # click's add_command
        self._declared.pop(name, None)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._declared.pop(name, None)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._declared), **dict.fromkeys(self._built)})

    def __len__(self) -> int:
        return len(self._declared.keys() | self._built.keys())

    def summary(self, name: str) -> Any:
        """Return a stand-in for command `name` carrying what a list of commands shows (its help text, short
        help, hidden and deprecated flags) and nothing else: a click command without options, cheap to make."""
        if name in self._built:
            return self._built[name]
        declared = self._declared[name]
        if isinstance(declared, CommandInfo):
            assert declared.callback is not None
            # as typer.main.get_command_from_info words it
            text = inspect.cleandoc(declared.help) if declared.help is not None else inspect.getdoc(declared.callback)
            return TyperCommand(
                name, help=text, short_help=declared.short_help, hidden=declared.hidden, deprecated=declared.deprecated
            )
        solved = typer.main.solve_typer_info_defaults(declared)
        return TyperCommand(
            name, help=solved.help, short_help=solved.short_help, hidden=solved.hidden, deprecated=solved.deprecated
        )


def _declared_names(declared: typer.Typer) -> dict[str, CommandInfo | TyperInfo]:
    """Return the commands and groups of commands declared on `declared` by the name they are typed as."""
    found: dict[str, CommandInfo | TyperInfo] = {}
    for command in declared.registered_commands:
        assert command.callback is not None
        found[command.name or typer.main.get_command_name(command.callback.__name__)] = command
    for sub_group in declared.registered_groups:
        name = typer.main.solve_typer_info_defaults(sub_group).name  # given to add_typer, or the app's own
        assert name, "a group of commands needs a name"
        found[name] = sub_group
    return found


class PipecliGroup(TyperGroup):
    """The root command: builds a command only when it is used (`_Commands`), runs each command inside its
    invocation's context (`cli.context`) and turns every PipecliError, usage error and database failure into
    one line on stderr and an exit code."""

    def __init__(self, **attrs: Any) -> None:
        attrs.pop("commands", None)  # the root app declares none: they are on `_declared`
        super().__init__(**attrs)
        self.commands = _Commands(_declared, self, app.pretty_exceptions_short)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names, without building the commands

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The list of commands in `pipecli --help`, from each command's help text (`_Commands.summary`)."""
        assert isinstance(self.commands, _Commands)
        rows = [(name, self.commands.summary(name)) for name in self.commands]
        rows = [(name, command) for name, command in rows if not command.hidden]
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)  # as click lays it out
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])

    def shell_complete(self, ctx: Any, incomplete: str) -> "list[CompletionItem]":
        """The commands (with their short help) and root options that start with the word typed, for a TAB
        after `pipecli`, from each command's help text (`_Commands.summary`)."""
        # click's completion item: loaded only for a TAB
        from typer._click.shell_completion import CompletionItem

        assert isinstance(self.commands, _Commands)
        found = [(name, self.commands.summary(name)) for name in self.commands if name.startswith(incomplete)]
        items = [
            CompletionItem(name, help=command.get_short_help_str()) for name, command in found if not command.hidden
        ]
        return items + _click.Command.shell_complete(self, ctx, incomplete)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta["pipecli_argv"] = list(args)  # the journal records the command line as typed
        try:
            return super().parse_args(ctx, args)
        except click_errors.UsageError as exc:
            _usage_error(exc, self, args)

    def invoke(self, ctx: Any) -> Any:  # click's Context, which typer keeps private
        # cli.context and cli.output are this package's submodules: imported once the package is loaded
        from pipecli.cli.context import Context, using

        if not isinstance(ctx.obj, Context):  # a test may hand one in: runner.invoke(app, args, obj=Context(...))
            ctx.obj = Context()
        ctx.obj.argv = ctx.meta.get("pipecli_argv", [])
        with using(ctx.obj) as context:
            try:
                return self._invoke_reporting(ctx, context)
            finally:
                _end_paging()

    def _invoke_reporting(self, ctx: Any, context: "Context") -> Any:
        try:
            result = super().invoke(ctx)
            _say_readings(context)
            return result
        except PipecliError as exc:
            _error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except click_errors.UsageError as exc:  # parsing a command's words: an unknown option, a bad choice...
            _usage_error(exc, self, ctx.meta.get("pipecli_argv", []))
        except (typer.Exit, typer.Abort, TyperException) as exc:  # typer's own flow: --help
            if isinstance(exc, typer.Exit) and exc.exit_code == 0:
                _say_readings(context)
            raise
        except BrokenPipeError:
            # The reader (`| head`) went away: not an error of ours.
            context.stderr.close()
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            _error("interrupted; nothing was changed by the unfinished command")
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("PIPECLI_DEBUG"):
                raise
            # SQLAlchemy's error type only on a failure: --help and --version never load SQLAlchemy
            from sqlalchemy.exc import DBAPIError

            if isinstance(exc, DBAPIError):
                # the store only to word a database failure
                from pipecli.store.db import translate_error

                _error(str(translate_error(exc, context.db or "database")))
                raise typer.Exit(1) from None
            if isinstance(exc, OverflowError) and "SQLite INTEGER" in str(exc):  # an id like 99999999999999999999
                _error(f"a number is too large: {exc}")
                raise typer.Exit(1) from None
            if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
                # a path the user named that the system refuses (too long, a loop of links...); the
                # command's transaction was rolled back on the way here
                _error(f"cannot use {exc.filename}: {exc.strerror}")
                raise typer.Exit(1) from None
            first = str(exc).splitlines()[0] if str(exc) else ""
            _error(f"internal error: {type(exc).__name__}: {first} (set PIPECLI_DEBUG=1 for details)")
            raise typer.Exit(EXIT_INTERNAL) from None


def _say_readings(context: "Context") -> None:
    """Write on stderr how the command read the times given in words (`common.ts`), once it succeeded."""
    if context.readings:
        # a submodule of this package: imported once the package is loaded
        from pipecli.cli import output

        for reading in context.readings:
            output.message(reading)


def _usage_error(exc: click_errors.UsageError, root: Any, argv: list[str]) -> NoReturn:
    """Write click's usage error `exc` as one line on stderr and exit 2; `pipecli db` alone (a group
    without its command) still prints the group's help, as click does."""
    if isinstance(exc, click_errors.NoArgsIsHelpError):
        raise exc
    path = exc.ctx.command_path if exc.ctx is not None else _command_path(root, argv)
    # a submodule of this package and the base's escaping: imported once the package is loaded
    from pipecli.cli import output
    from pipecli.formats import neutralise

    output.message(neutralise(f"{path}: {_usage_line(exc)} ({path} -h for help)"))
    raise typer.Exit(EXIT_USAGE) from None


def _command_path(root: Any, argv: list[str]) -> str:
    """Return the command `argv` names (`pipecli db init`), for the errors click raises without its context
    (`--limit` given no value): the words that name commands, skipping options and their values."""
    path, command, words = ["pipecli"], root, iter(argv)
    for word in words:
        if word.startswith("-"):
            option = next((p for p in command.params if word.partition("=")[0] in p.opts), None)
            if option is not None and not option.is_flag and "=" not in word:
                next(words, None)
            continue
        command = getattr(command, "commands", {}).get(word)
        if command is None:
            break
        path.append(word)
    return " ".join(path)


def _either(words: list[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _quoted(text: str) -> list[str]:
    """The words quoted in click's and typer's messages: `'open', 'won'` -> [open, won]."""
    return re.findall(r"'((?:[^'\\]|\\.)*)'", text)


def _param_name(param: Any) -> str:
    """An option by its long name (`--format`, not `-f`), an argument by its metavar in capitals (`LEAD`)."""
    if param.param_type_name == "option":
        return next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])
    return str(param.display_name_raw).upper()


def _value_problem(exc: click_errors.BadParameter) -> str:
    """What is wrong with the value of a bad parameter, without pydantic's and click's wording: `'bogus' is
    not one of open, won, lost`, `'x' is not a whole number`."""
    errors: list[Any] = getattr(exc.__cause__, "errors", list)()  # pydantic's ValidationError, as typer converts values
    if errors:
        kind, value = errors[0].get("type"), errors[0].get("input")
        if kind in ("int_parsing", "int_from_float"):
            return f"{value!r} is not a whole number"
        if kind == "float_parsing":
            return f"{value!r} is not a number"
    text = re.sub(r"^Value error, ", "", exc.message).rstrip(".")
    choice = re.fullmatch(r"(.*) is not one of (.*)", text, re.S)
    if choice:
        return f"{choice[1]} is not one of {', '.join(_quoted(choice[2]))}"
    if errors and kind != "value_error":
        return f"{value!r}: {text[:1].lower()}{text[1:]}"
    return text


def _usage_line(exc: click_errors.UsageError) -> str:
    """Return what is wrong in usage error `exc`, in one line: `--status: 'bogus' is not one of open, won,
    lost`, `unknown option --stat; did you mean --sort, --stage or --status?`, `missing argument LEAD`."""
    if isinstance(exc, click_errors.MissingParameter):
        if exc.param is None:
            return f"missing {exc.param_type or 'parameter'} {exc.param_hint or ''}".strip()
        text = f"missing {exc.param_type or exc.param.param_type_name} {_param_name(exc.param)}"
        choices = exc.param.get_missing_message(exc.ctx)  # typer's "Choose from:" and the choices
        return f"{text}: one of {', '.join(choices.split(':', 1)[1].replace(',', ' ').split())}" if choices else text
    if isinstance(exc, click_errors.BadParameter):
        if exc.param is not None:
            name = _param_name(exc.param)
        elif exc.param_hint is not None:
            name = exc.param_hint if isinstance(exc.param_hint, str) else " / ".join(exc.param_hint)
        else:
            return _value_problem(exc)
        return f"{name.strip(chr(39))}: {_value_problem(exc)}"
    if isinstance(exc, click_errors.NoSuchOption):
        text = f"unknown option {exc.option_name}"
        return f"{text}; did you mean {_either(sorted(exc.possibilities))}?" if exc.possibilities else text
    message = exc.message.strip()
    unknown = re.fullmatch(r"No such command (.+?)\.(?: Did you mean (.*)\?)?", message, re.S)
    if unknown:
        return f"unknown command {unknown[1]}" + (
            f"; did you mean {_either(_quoted(unknown[2]))}?" if unknown[2] else ""
        )
    extra = re.fullmatch(r"Got unexpected extra (argument(?:\(s\)|s)?) \((.*)\)", message, re.S)
    if extra:
        return f"unexpected extra {extra[1]}: {extra[2]}"
    needs = re.fullmatch(r"Option '(.+)' requires an argument\.?", message)
    if needs:
        return f"{needs[1]} needs a value"
    takes = re.fullmatch(r"Option '(.+)' does not take a value\.?", message)
    if takes:
        return f"{takes[1]} takes no value"
    return " ".join(f"{message[:1].lower()}{message[1:]}".rstrip(".").split())


def _end_paging() -> None:
    # a submodule of this package: imported once the package is loaded
    from pipecli.cli import output

    output.end_paging()


def _error(text: str) -> None:
    # a submodule of this package: imported once the package is loaded
    from pipecli.cli import output

    output.error(text)


# where the command modules declare their commands; the root group builds each one from here when it is used
_declared = typer.Typer()

app = typer.Typer(
    cls=PipecliGroup,
    name="pipecli",
    help="A sales pipeline in your terminal, on one SQLite file you own.\n\n"
    "Exit codes: 0 ok; 1 error (message on stderr) or `clean --check` found something; "
    "2 usage error or confirmation needed (--yes); 66 no database there (nothing created); 70 internal error.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        # a submodule of this package: imported once the package is loaded
        from pipecli.cli import output

        output.line(f"pipecli {version()}")
        raise typer.Exit()


@app.callback()
def _root(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database file or postgresql:// URL (else $PIPECLI_DB, config `db`, the default file).",
            metavar="PATH|URL",
        ),
    ] = None,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Who makes the changes, as history records them (else $PIPECLI_USER, config `user`, your login).",
            metavar="NAME",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    no_pager: Annotated[
        bool,
        typer.Option(
            "--no-pager",
            help="Never page: by default output taller than the terminal goes through $PIPECLI_PAGER, else "
            "$PAGER, else `less -FRX` (never when piped).",
        ),
    ] = False,
) -> None:
    if as_ is not None:
        # imported when the command runs, so --help and --version stay light
        from pipecli.cli.context import current

        if not as_.strip():
            raise UsageError("--as needs a name")
        current().actor = as_
    if db is not None:  # else the context's own (None unless a test handed in a context with one)
        # a submodule of this package: imported once the package is loaded
        from pipecli.cli import common

        common.set_db(db)
    # submodules of this package: imported once the package is loaded
    from pipecli.cli import output
    from pipecli.cli.context import current

    current().pager = not no_pager
    output.start_paging()


# The command modules, in the order `--help` lists their commands, and the commands each declares. A TAB
# that completes the words of one command (`pipecli show Ro<TAB>`) imports only the module declaring it:
# importing all sixteen (each defines its commands' options) was a fifth of a TAB's cost. Everything else,
# and a TAB after a command missing here, imports them all: this table only ever saves time.
# tests/test_startup.py checks it against what the modules register.
COMMANDS: dict[str, tuple[str, ...]] = {
    "leads": ("add-lead", "move", "edit", "show", "delete", "log", "list", "board"),
    "pipeline": ("pipeline",),
    "admin": ("demo", "db", "config"),
    "selling": ("qualify", "score", "next", "follow-up", "today"),
    "transfer": ("import", "export"),
    "reports": ("metrics", "funnel", "forecast", "size"),
    "clean": ("clean", "snooze"),
    "history": ("history", "undo", "changes"),
    "trust": ("backup", "restore", "forget"),
    "ui": ("ui",),
    "mail": ("mail",),
    "merge": ("merge", "duplicates"),
    "calendar": ("calendar",),
    "examples": ("examples",),
    "settings": ("settings",),
    "team": ("team",),
}
# the root's options before the command's name, as a TAB reads them (`complete.command_typed`)
ROOT_VALUE_OPTIONS = frozenset({"--db", "--as"})
ROOT_FLAGS = frozenset({"--version", "--no-pager", "-h", "--help"})


def _register() -> None:
    """Register the command modules' commands on `_declared`: all of them, or in a TAB process (the shell
    set `_PIPECLI_COMPLETE`) whose words name a command, that command's module alone."""
    # the modules are named by the table above (typer reads their commands' annotations when they load)
    import importlib

    modules = list(COMMANDS)
    typed = None
    if os.environ.get("_PIPECLI_COMPLETE"):
        # a submodule of this package: imported once the package is loaded
        from pipecli.cli import complete

        typed = complete.command_typed(ROOT_VALUE_OPTIONS, ROOT_FLAGS)
        modules = [name for name, commands in COMMANDS.items() if typed in commands] or modules
    for name in modules:
        importlib.import_module(f"pipecli.cli.{name}").register(_declared)
    if len(modules) < len(COMMANDS) and typed not in _declared_names(_declared):  # the table is out of date
        for name in COMMANDS:
            if name not in modules:
                importlib.import_module(f"pipecli.cli.{name}").register(_declared)


_register()


def main() -> None:
    """Console-script entry point (also `python -m pipecli`, named `pipecli` all the same: usage lines and the
    shells' completion variable `_PIPECLI_COMPLETE` are the command's, not the interpreter's)."""
    if os.environ.get("_PIPECLI_COMPLETE"):
        # a submodule of this package: imported once the package is loaded
        from pipecli.cli import complete

        complete.words_as_typed()
        try:
            app(prog_name="pipecli")
        except SystemExit as done:  # typer ends a TAB with sys.exit once it has written the candidates
            complete.exit_at_once(done)
        return
    app(prog_name="pipecli")
