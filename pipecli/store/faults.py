"""Fault injection for the crash tests: a process killed at a named point of a write, not at a time.

`kill_point(name)` sends the process SIGKILL when `PIPECLI_TEST_KILL_AT` names that point, and only under
pytest (`PYTEST_CURRENT_TEST` is set too, which pytest does for the test and the processes it starts):
one variable alone set by accident does nothing. The points, in the order a write passes them:

    bulk:switched        a bulk write switched the file to a rollback journal; its transaction not begun
    import:batch-stored  an import wrote a batch of rows inside its transaction (pages in the log or file)
    write:before-commit  a write transaction's work is done; COMMIT not yet run
    write:committed      COMMIT returned; a bulk write has not yet put the file back in WAL mode
"""

from __future__ import annotations

import os
import signal

ENV = "PIPECLI_TEST_KILL_AT"
POINTS = ("bulk:switched", "import:batch-stored", "write:before-commit", "write:committed")


def kill_point(name: str) -> None:
    """Kill this process (SIGKILL: no cleanup, as a power cut or the OOM killer) when the test asked for
    `name`; return at once otherwise (one lookup of the environment)."""
    if os.environ.get(ENV) == name and "PYTEST_CURRENT_TEST" in os.environ:
        os.kill(os.getpid(), signal.SIGKILL)
