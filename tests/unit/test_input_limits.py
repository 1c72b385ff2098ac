"""Input limits through the real CLI: a huge file, a device, an alias bomb, absurd
nesting, a file of a million tiny items or of mostly comments each exit 2 within a second
and under 100 MB; `lab gen` refuses what `lab up`
would; `lab up /dev/stdin` reads the file once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "topologies" / "geneve-router.yaml"


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


@pytest.mark.parametrize("case", [*CASES, "/dev/zero"])
def test_hostile_input_is_refused_fast_and_small(case: str, tmp_path: Path) -> None:
    if case.startswith("/"):
        path = case
    else:
        path = str(tmp_path / f"{case}.yaml")
        Path(path).write_text(CASES[case]())
    proc, took = run_lab("up", "--dry-run", path)
    assert proc.returncode == 2, proc.stderr
    assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr
    assert path.encode() in proc.stderr, proc.stderr
    assert took < 1.5, f"{case}: {took:.2f} s (python start-up included)"
    assert peak_kb(proc) < 100 * 1024, f"{case}: {peak_kb(proc)} KB"


def test_lab_gen_refuses_what_lab_up_refuses(tmp_path: Path) -> None:
    out = tmp_path / "big.yaml"
    proc, _ = run_lab(
        "gen", "--chassis", "1000", "--vms-per-chassis", "10", "--switches", "40", "-o", str(out)
    )
    assert proc.returncode == 2, proc.stderr
    assert b"100000 values" in proc.stderr
    assert not out.exists()


def test_lab_up_reads_stdin_once() -> None:
    proc, _ = run_lab("up", "--dry-run", "/dev/stdin", stdin=SEED.read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert b"geneve-router.fabric" in proc.stdout


@pytest.mark.parametrize(
    "topology", sorted((REPO / "topologies").glob("*.yaml")), ids=lambda p: p.stem
)
def test_libyaml_and_pure_python_read_a_file_alike(
    topology: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libyaml (the fast path) and the pure-Python parser (without libyaml) give the same
    data, lines and plain-scalar texts."""
    from lab.topology import source

    text = topology.read_text()
    fast = source.read_source(text, topology.name)
    monkeypatch.setattr(source, "_CLoader", None)
    pure = source.read_source(text, topology.name)
    assert (fast.data, fast.lines, fast.plain) == (pure.data, pure.lines, pure.plain)


def test_both_parsers_keep_the_text_of_a_plain_scalar(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unquoted MAC is a base-60 integer in YAML 1.1; its text is kept either way
    (libyaml says style '' where PyYAML says None)."""
    from lab.topology import source

    text = "vms:\n  vm1: {mac: 40:44:00:00:00:01, n: 1}\n"
    fast = source.read_source(text, "t.yaml").plain
    monkeypatch.setattr(source, "_CLoader", None)
    assert fast == source.read_source(text, "t.yaml").plain
    assert fast[("vms", "vm1", "mac")] == "40:44:00:00:00:01"
