"""A bare MLLP endpoint that only frames and acknowledges: the ceiling the ADT benchmark compares against.

It reads MSH-10 with plain string operations and answers ``AA``; nothing is parsed, stored or applied.
Run it with ``python -m careloop.interop.mllp.bare --port P`` (prints ``listening HOST PORT`` when ready).
"""

from __future__ import annotations

import argparse
import sys
import time


class BareAckHandler:
    def handle(self, payload: bytes, peer: str) -> bytes:
        header = payload.split(b"\r", 1)[0]
        sep = header[3:4] or b"|"
        fields = header.split(sep)
        control_id = fields[9] if len(fields) > 9 else b""
        version = fields[11] if len(fields) > 11 else b"2.5"
        stamp = time.strftime("%Y%m%d%H%M%S").encode()
        return (
            b"MSH|^~\\&|careloop|careloop|||" + stamp + b"||ACK|A" + control_id + b"|P|" + version + b"\rMSA|AA|"
            + control_id + b"\r"
        )

    def oversized(self, head: bytes, nbytes: int, peer: str) -> bytes | None:
        return None

    def close_thread(self) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    from careloop.interop.mllp.server import run

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    def ready(host: str, port: int) -> None:
        print(f"listening {host} {port}", flush=True)

    return run(BareAckHandler(), host=args.host, port=args.port, ready=ready, inline=True)


if __name__ == "__main__":
    sys.exit(main())
