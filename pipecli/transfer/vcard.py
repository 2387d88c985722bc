"""vCard 3 and 4 contacts (.vcf) as the CSV the import reads: one lead per card.

A card's FN (or, without one, its N joined given-name first) is the lead's name; ORG its company (the
first component); the first EMAIL and TEL its e-mail and phone (a `tel:` URI as its number); NOTE its note.
Folded lines are unfolded and escaped characters (`\\n`, `\\,`, `\\;`) read as what they stand for. A card
without a name stops the import (the line it begins on), so nothing is written.
"""

from __future__ import annotations

import csv
import io
import re

from pipecli.errors import PipecliError

SUFFIXES = (".vcf", ".vcard")
HEADER = ["name", "company", "email", "phone", "note"]


def is_vcard(path: str) -> bool:
    """Return True when `path` names a vCard file by its suffix (read by `to_csv`, not as CSV)."""
    return path.lower().endswith(SUFFIXES)


def _unescape(value: str) -> str:
    return re.sub(r"\\([nN,;\\])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _split(value: str, sep: str) -> list[str]:
    """Return a structured value's components (split on unescaped `sep`), unescaped."""
    return [_unescape(p) for p in re.split(rf"(?<!\\){sep}", value)]


def cards(text: str, label: str) -> list[list[str]]:
    """Return each card of a vCard text as [name, company, email, phone, note]; raise PipecliError for a
    card without a name or a file with no card."""
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + line[1:])  # a folded line goes on the one before
        elif line.strip():
            lines.append((number, line))
    out: list[list[str]] = []
    card: dict[str, str] | None = None
    start = 0
    for number, line in lines:
        prop, _, value = line.partition(":")
        name = prop.split(";")[0].split(".")[-1].upper()
        if name == "BEGIN" and value.strip().upper() == "VCARD":
            card, start = {}, number
        elif name == "END" and card is not None:
            full = card.get("FN", "").strip()
            if not full and "N" in card:
                parts = _split(card["N"], ";") + ["", ""]
                full = " ".join(
                    p.strip() for p in (parts[3] if len(parts) > 3 else "", parts[1], parts[0]) if p.strip()
                )
            if not full:
                raise PipecliError(f"{label}, line {start}: a vCard without a name (FN or N); nothing was imported")
            company = _split(card.get("ORG", ""), ";")[0].strip()
            phone = card.get("TEL", "").strip()
            if phone[:4].lower() == "tel:":  # vCard 4's `TEL;VALUE=uri:tel:+1-555-0100`: the number, not the URI
                phone = phone[4:].strip()
            out.append([full, company, card.get("EMAIL", "").strip(), phone, card.get("NOTE", "")])
            card = None
        elif card is not None and name in ("FN", "N", "ORG", "EMAIL", "TEL", "NOTE") and name not in card:
            card[name] = value if name in ("N", "ORG") else _unescape(value)
    if not out:
        raise PipecliError(f"{label} holds no vCard (BEGIN:VCARD ... END:VCARD)")
    return out


def to_csv(path: str) -> tuple[io.BytesIO, int]:
    """Return (the cards of the vCard file at `path` as UTF-8 CSV bytes, rewound; their size)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except OSError as exc:
        raise PipecliError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PipecliError(f"{path} is not UTF-8 text (vCard 3 and 4 are UTF-8)") from None
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(cards(text, path))
    data = buffer.getvalue().encode("utf-8")
    return io.BytesIO(data), len(data)
