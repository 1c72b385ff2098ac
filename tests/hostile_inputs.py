"""Hostile topology inputs and a way to run `lab` on one measuring its peak memory: shared by
tests/unit/test_input_limits.py (exit 2, one sentence, under 100 MB) and
benchmarks/input_limits.py (how long each takes to be refused, as JSON)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# `python -m lab ARGS`, printing its own peak memory (VmHWM, KB; ru_maxrss would count the
# forking parent's) last on stderr
MEASURED = (
    "import atexit, re, runpy, sys; atexit.register(lambda: sys.stderr.write("
    "'\\nmaxrss_kb=' + re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read())[1]"
    " + '\\n')); sys.argv = ['lab', *sys.argv[1:]]; runpy.run_module('lab', run_name='__main__')"
)


def run_lab(*args: str, stdin: bytes | None = None) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", MEASURED, *args], capture_output=True, input=stdin, cwd=REPO
    )
    return proc, time.monotonic() - start


def peak_kb(proc: subprocess.CompletedProcess) -> int:
    return int(proc.stderr.rsplit(b"maxrss_kb=", 1)[1])


def _bomb() -> str:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 12):
        prev = "a" if i == 1 else f"b{i - 1}"
        lines.append(f"b{i}: &b{i} [{','.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


UNDER_CAP = 4 * 1024 * 1024 - 64  # just under loader.MAX_BYTES: parsed, not refused unread

CASES = {
    "huge": lambda: "a" * (17 * 1024 * 1024),
    "just-over-the-cap": lambda: "a" * (4 * 1024 * 1024 + 1),
    # a million one-line items: libyaml's event count stops it at MAX_VALUES (the pure-Python
    # composer took 4-8 s and ~140 MB for a 15 MB file of these)
    "tiny-items": lambda: "name: x\nnodes:\n" + "- a\n" * (UNDER_CAP // 4),
    "tiny-keys": lambda: (
        "name: x\nnodes:\n" + "".join(f" k{i}: 1\n" for i in range(UNDER_CAP // 13))
    ),
    # few values, much text: the pure-Python scanner needed ~6 s for 4 MB of comments
    "comments": lambda: "name: x\n" + "#\n" * (UNDER_CAP // 2),
    "one-long-scalar": lambda: "name: x\nnodes: " + "a" * UNDER_CAP + "\n",
    "bomb": _bomb,
    "deep-flow": lambda: "name: x\nnodes: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep-block": lambda: "name: x\nnodes:\n" + "".join("  " * i + "a:\n" for i in range(1, 1500)),
}
