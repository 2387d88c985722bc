"""The file an import reads: bytes checked to be text, decoded, the delimiter sniffed, rows read in chunks.

The first `HEAD_BYTES` are read up front (`read_head`): they show whether the file is text at all (an .xlsx
renamed .csv or a binary is refused with what it looks like), which encoding and delimiter it has, and a
sample of its dates. `open_csv` then reads the head and the rest of the stream as one (`Source`) through the
standard csv module, and `read_chunks` yields its rows a batch at a time, so memory stays flat however long
the file is.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, BinaryIO, Protocol

from pipecli.errors import PipecliError, UsageError
from pipecli.store.files import sniff_magic

HEAD_BYTES = 1 << 20  # read up front to check the file is text, sniff the delimiter and the date order
DELIMITERS = (",", ";", "\t", "|")
SAMPLE_ROWS = 2000  # rows of the head that settle the file's day order
csv.field_size_limit(1 << 24)

# What `read_chunks` yields: (kind, a, b, bytes read so far); see there.
Message = tuple[str, Any, Any, int]


class Rows(Protocol):
    """What the import reads rows from: a csv reader (or `_Rewritten` around one), with its line count."""

    @property
    def line_num(self) -> int: ...

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


class Source(io.RawIOBase):
    """The already-read head, then the rest of the stream; counts the bytes handed on (for progress)."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.offset, self.rest, self.count = memoryview(head), 0, rest, 0

    def readable(self) -> bool:
        return True

    # `Any` as typeshed's WriteableBuffer (the base's parameter) has neither len() nor slice assignment
    def readinto(self, buffer: Any) -> int:
        if self.offset < len(self.head):
            n = min(len(buffer), len(self.head) - self.offset)
            buffer[:n] = self.head[self.offset : self.offset + n]
            self.offset += n
        else:
            data = self.rest.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.count += n
        return n


def read_head(stream: BinaryIO) -> bytes:
    """Return the first `HEAD_BYTES` of a stream (all of it when shorter), which `open_csv` checks and
    sniffs; a caller that reads them first (to size up stdin) passes them on as `head`."""
    chunks, size = [], 0
    while size < HEAD_BYTES:
        chunk = stream.read(HEAD_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def choose_encoding(head: bytes, encoding: str | None) -> str:
    """Return the codec to read the file with: UTF-16 by its BOM, else `encoding` (default UTF-8, which
    reads with or without a BOM); raise UsageError for an unknown name."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) and encoding is None:
        return "utf-16"
    name = encoding or "utf-8"
    try:
        canonical = codecs.lookup(name).name
        "".encode(canonical)  # a codec such as rot13 or base64 is no text encoding
    except (LookupError, UnicodeError):  # UnicodeError: a name that is not text (invalid UTF-8 in argv)
        raise UsageError(f"--encoding: unknown encoding {name!r} (try utf-8, cp1252, latin-1, cp850)") from None
    return "utf-8-sig" if canonical in ("utf-8", "utf-8-sig") else canonical


def check_text(head: bytes, encoding: str, label: str, complete: bool) -> str:
    """Return the decoded head, or raise saying what the file looks like when it is not text CSV."""
    what = sniff_magic(head)
    if what:
        raise PipecliError(f"{label} is not a CSV file: it looks like {what}; save it as CSV (UTF-8) first")
    if not encoding.startswith("utf-16") and b"\x00" in head[:65536]:
        raise PipecliError(f"{label} is not a CSV file: it looks like a binary file (it contains NUL bytes)")
    try:
        return codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise PipecliError(
            f"{label} is not valid {encoding.replace('-sig', '')} text (byte {head[exc.start]:#04x} at offset "
            f"{exc.start}); pass --encoding (cp1252 for Excel on Windows, latin-1, cp850...)"
        ) from None
    except UnicodeError:  # UTF-16 without its byte-order mark
        raise PipecliError(
            f"{label} is not {encoding} text with a byte-order mark; pass --encoding utf-16-le or utf-16-be"
        ) from None


def sample(head_text: str, delimiter: str, complete: bool, limit: int) -> list[list[str]]:
    """Return up to `limit` (and one) non-empty rows of the head, without a last row the head may cut."""
    rows = []
    reader = csv.reader(io.StringIO(head_text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > limit:
                break
    except csv.Error:
        pass
    if not complete and rows and len(rows) <= limit:
        rows.pop()  # the head may end inside this row
    return [r for r in rows if r]


def sniff_delimiter(head_text: str, complete: bool) -> str:
    """Return the delimiter among , ; tab | that splits the head into the most consistent columns."""
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        rows = sample(head_text, delimiter, complete, 50)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(1 for r in rows if len(r) == width), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


@dataclass
class CsvFile:
    """An opened CSV stream: what was sniffed from its head, its header row, and the reader of the rest."""

    head: bytes
    complete: bool  # the head is the whole file
    encoding: str  # the codec (utf-8-sig for UTF-8 with or without BOM)
    head_text: str
    delimiter: str
    raw_header: list[str]
    source: Source
    reader: Rows  # the csv reader, after the header row
    rewrite: Callable[[list[str]], list[str]] | None = None  # a vendor profile's row rewrite (`profiles.plan`)

    @property
    def encoding_name(self) -> str:
        """Return the encoding as the user would name it (utf-8, not utf-8-sig)."""
        return self.encoding.replace("-sig", "")

    @property
    def line_ending(self) -> str:
        """Return the file's line ending, for a rejects file that matches it."""
        return "\r\n" if "\r\n" in self.head_text[:65536] else "\n"

    def sample(self) -> list[list[str]]:
        """Return the first rows of the head after the header (for the day order)."""
        rows = sample(self.head_text, self.delimiter, self.complete, SAMPLE_ROWS)[1:]
        return [self.rewrite(r) for r in rows] if self.rewrite is not None else rows

    def reshape(self, header: list[str], rewrite: Callable[[list[str]], list[str]]) -> None:
        """Read the file from now on as `header`, each row through `rewrite` (a vendor profile's plan)."""
        self.raw_header, self.rewrite, self.reader = header, rewrite, _Rewritten(self.reader, rewrite)


class _Rewritten:
    """A csv reader whose rows go through a rewrite; keeps the reader's `line_num` for error lines."""

    def __init__(self, reader: Rows, rewrite: Callable[[list[str]], list[str]]):
        self.reader, self.rewrite = reader, rewrite

    @property
    def line_num(self) -> int:
        return self.reader.line_num

    def __iter__(self) -> _Rewritten:
        return self

    def __next__(self) -> list[str]:
        row = next(self.reader)
        return self.rewrite(row) if row and (len(row) > 1 or row[0].strip()) else row


def open_csv(stream: BinaryIO, delimiter: str | None, encoding: str | None, label: str, head: bytes | None) -> CsvFile:
    """Return `stream` opened as CSV (`head`: its first bytes when the caller already read them), or raise
    a one-line error when it is not text, is empty or has no readable header row."""
    head = read_head(stream) if head is None else head
    codec = choose_encoding(head, encoding)
    complete = len(head) < HEAD_BYTES
    head_text = check_text(head, codec, label, complete)
    if not head_text.strip():
        raise PipecliError(f"{label} is empty: expected a header row and rows of leads")
    delimiter = delimiter or sniff_delimiter(head_text, complete)
    source = Source(head, stream)
    reader = csv.reader(
        io.TextIOWrapper(io.BufferedReader(source, 1 << 16), encoding=codec, newline=""), delimiter=delimiter
    )
    try:
        raw_header = next(reader)
    except (StopIteration, csv.Error, UnicodeDecodeError):
        raise PipecliError(f"{label} has no readable header row") from None
    return CsvFile(head, complete, codec, head_text, delimiter, raw_header, source, reader)


def read_chunks(file: CsvFile, batch: int) -> Iterator[Message]:
    """Yield the file's rows as (kind, a, b, bytes read so far) messages: ("rows", chunk of `batch` rows as
    read, the line it begins on); after rows that cannot be read on, ("csv_error", what, line) or
    ("decode_error", "", line)."""
    reader, source = file.reader, file.source
    while True:
        first_line, chunk = reader.line_num + 1, list[list[str]]()
        try:
            chunk.extend(islice(reader, batch))  # on a reading error, keeps the rows read before it
        except csv.Error as exc:
            yield "rows", chunk, first_line, source.count  # the rows before it are checked (and reported) too
            yield "csv_error", str(exc), reader.line_num, source.count
            return
        except UnicodeDecodeError:
            yield "rows", chunk, first_line, source.count
            yield "decode_error", "", reader.line_num, source.count
            return
        if not chunk:
            return
        yield "rows", chunk, first_line, source.count


def non_blank(chunk: list[list[str]]) -> list[list[str]]:
    """Return the rows of a chunk that hold something (a blank line reads as [] or [""])."""
    return [cells for cells in chunk if len(cells) > 1 or (cells and cells[0].strip())]


def row_starts(chunk: list[list[str]], line: int) -> Iterator[tuple[int, list[str]]]:
    """Yield (the line it begins on, cells) for each non-blank row of `chunk`, whose first row begins on
    `line`: a row spans one line plus the line breaks inside its quoted cells, as the reader counts them."""
    for cells in chunk:
        if len(cells) > 1 or (cells and cells[0].strip()):
            yield line, cells
        text = "".join(cells)
        line += 1 + text.count("\n") + text.count("\r") - text.count("\r\n")
