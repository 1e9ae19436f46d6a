"""``python -m careloop.synth --patients N --seed S --out DIR [--as-of YYYY-MM-DD]``"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from careloop.synth.generator import DEFAULT_AS_OF, generate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m careloop.synth")
    p.add_argument("--patients", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument("--as-of", default=DEFAULT_AS_OF.isoformat())
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    result = generate(patients=args.patients, seed=args.seed, out_dir=Path(args.out),
                      as_of=date.fromisoformat(args.as_of))
    seconds = time.perf_counter() - t0
    print(f"{result.patients} patients, {sum(result.resources.values())} resources, {result.adt_messages} ADT "
          f"messages in {seconds:.2f}s -> {result.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
