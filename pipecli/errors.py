"""The one error type the core raises; the CLI turns it into a one-line message and an exit code."""

# Exit codes, documented in `pipecli --help` and the README.
EXIT_ERROR = 1  # bad input, unknown lead/stage/pipeline, a refused operation
EXIT_USAGE = 2  # wrong options, or a confirmation that cannot be asked (no terminal, no --yes)
EXIT_FOUND = 1  # `clean --check` found something
EXIT_NO_DATABASE = 66  # the database to read does not exist or holds no pipecli schema (sysexits' EX_NOINPUT)


class PipecliError(Exception):
    """A failure the user can fix; `str(err)` is the whole message, `exit_code` the process status."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


class NotFound(PipecliError):
    """Something named by the user (a lead, stage or pipeline) does not exist."""


class NoDatabase(PipecliError):
    """A command that only reads was pointed at a database that does not exist (or is not initialised):
    nothing was created, so a mistyped path fails instead of reporting on an empty pipeline (exit 66)."""

    def __init__(self, message: str):
        super().__init__(message, exit_code=EXIT_NO_DATABASE)


class UsageError(PipecliError):
    """The command was called in a way it cannot honour (exit 2)."""

    def __init__(self, message: str):
        super().__init__(message, exit_code=EXIT_USAGE)
