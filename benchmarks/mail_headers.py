"""What reading only a message's header block saves `mail sync` on mail with attachments.

    python benchmarks/mail_headers.py [--messages 100] [--attachment-kb 1024]

Parses the same message (a short text and one attachment of `--attachment-kb`) `--messages` times with the
parser `mail sync` uses (compat32, headers only), once whole, as before, and once its header block
(`mail.sync.head_of`), as now; prints the CPU and wall time of each and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipecli.mail.sync import head_of  # after the path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--attachment-kb", type=int, default=1024)
    args = parser.parse_args()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Ann <ann@acme.example>", "me@seller.example", "the contract"
    msg.set_content("Here it is.")
    msg.add_attachment(os.urandom(args.attachment_kb << 10), maintype="application", subtype="pdf", filename="c.pdf")
    data = msg.as_bytes()
    fast = BytesParser()
    print(f"{args.messages} messages of {len(data) / 1e6:.2f} MB, load {os.getloadavg()[0]:.1f}")
    for name, part in (("whole message (before)", lambda d: d), ("header block (now)", head_of)):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.messages):
            fast.parsebytes(part(data), headersonly=True)
        print(f"{name:<24}{time.process_time() - cpu:>7.2f} s CPU{time.perf_counter() - wall:>7.2f} s wall")


if __name__ == "__main__":
    main()
