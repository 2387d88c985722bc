"""A forked helper process that produces messages while this process consumes them.

A big import is bound by one core: Python reads and checks the rows, then SQLite writes them. `Worker`
forks a child that runs `produce(send)` (reading and checking, on the second core) and hands each message
to this process through a pipe, in order; the pipe holds about one message, so the child stays at most a
batch ahead and memory stays flat. The child only computes: it never touches the parent's database
connection, and it leaves with `os._exit`, so nothing the parent holds (SQLite locks, open files) is
closed or flushed twice. Columns cross the pipe as one NUL-joined text each (`pack_column`), which the
parent splits far faster than it would unpickle a million tuples.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

_END, _FAILED = "\0end", "\0failed"


class WorkerFailed(RuntimeError):
    """The child process raised: the message holds its traceback."""


def available() -> bool:
    """Return True where a process can fork (not on Windows)."""
    return hasattr(os, "fork")


class Worker:
    """Run `produce(send)` in a forked child; iterate over what it sends, in order."""

    def __init__(self, produce: Callable[[Callable[[object], None]], None]):
        read_fd, write_fd = os.pipe()
        gc.freeze()  # the child's collections then leave the parent's objects (and their shared pages) alone
        self.pid = os.fork()
        if self.pid != 0:
            gc.unfreeze()
        if self.pid == 0:  # the child
            os.close(read_fd)
            out = Connection(write_fd, readable=False)
            status = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C stops the parent, which ends the child
                produce(lambda message: out.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL)))
                out.send_bytes(pickle.dumps(_END))
            except BaseException:
                status = 1
                try:
                    out.send_bytes(pickle.dumps((_FAILED, traceback.format_exc())))
                except OSError:
                    pass  # the parent is gone
            finally:
                os._exit(status)
        os.close(write_fd)
        self.conn = Connection(read_fd, writable=False)

    def __iter__(self) -> Iterator[Any]:
        while True:
            message = pickle.loads(self.conn.recv_bytes())
            if message == _END:
                return
            if isinstance(message, tuple) and message and message[0] == _FAILED:
                raise WorkerFailed(message[1])
            yield message

    def close(self) -> None:
        """End the child (at once, if it is still producing) and reap it."""
        self.conn.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)


def pack_column(values: list[Any], text: bool) -> str | None:
    """Return a column as one text (None stored as ""), or None when a text value holds NUL and could
    not be split back; `text` says the values are all strings already."""
    if text:
        joined = "\0".join(values)
        return joined if joined.count("\0") == len(values) - 1 else None
    return "\0".join(["" if v is None else str(v) for v in values])


def unpack_column(packed: str) -> list[str]:
    """Return the values of a `pack_column` text, as texts ("" for None)."""
    return packed.split("\0")
