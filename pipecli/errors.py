"""The one error type the core raises; the CLI turns it into a one-line message and an exit code."""

# Exit codes, documented in `pipecli --help` and the README.
EXIT_ERROR = 1  # bad input, unknown lead/stage/pipeline, a refused operation
EXIT_USAGE = 2  # wrong options, or a confirmation that cannot be asked (no terminal, no --yes)
EXIT_FOUND = 1  # `clean --check` found something


class PipecliError(Exception):
    """A failure the user can fix; `str(err)` is the whole message, `exit_code` the process status."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


class NotFound(PipecliError):
    """Something named by the user (a lead, stage or pipeline) does not exist."""


class UsageError(PipecliError):
    """The command was called in a way it cannot honour (exit 2)."""

    def __init__(self, message: str):
        super().__init__(message, exit_code=EXIT_USAGE)
