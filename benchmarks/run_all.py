"""Run every benchmark script in this folder, one after another, and print their tables.

``python benchmarks/run_all.py [--quick] [--agents]``: ``--quick`` passes ``--quick`` to each
script (a smoke run); the learning benchmark (``bench_agents.py``, many minutes) runs only
with ``--agents``. Benchmarks print ratios against the alternatives measured in the same run;
absolute times on a shared machine are noise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAST = [
    "bench_wrappers.py",
    "bench_buffers.py",
    "bench_vector.py",
    "bench_template.py",
    "bench_checkpoint.py",
    "bench_video.py",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--agents", action="store_true", help="also run the learning benchmark (slow)")
    args = parser.parse_args()
    scripts = FAST + (["bench_agents.py"] if args.agents else [])
    failed = []
    for name in scripts:
        path = HERE / name
        if not path.exists():
            continue
        print(f"\n# {name}\n", flush=True)
        cmd = [sys.executable, str(path)] + (["--quick"] if args.quick else [])
        if subprocess.run(cmd, check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
