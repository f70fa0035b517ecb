"""Run every benchmark script (benchmarks/bench_*.py); each prints `name: value` lines.

Benchmarks compare two things measured side by side in one run (a ratio), never an absolute time
against a threshold. `make bench` runs this; `python benchmarks/run.py NAME` runs the matching ones.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    scripts = sorted(here.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.stem for a in argv)]
    failed = 0
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)])
        print(f"   ({time.perf_counter() - start:.1f} s{'' if code == 0 else f', exit {code}'})", flush=True)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
