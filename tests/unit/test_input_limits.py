"""Input limits through the real CLI: a huge file, a device, an alias bomb, absurd
nesting, a file of a million tiny items or of mostly comments each exit 2 with one sentence
and under 100 MB (how fast: benchmarks/input_limits.py); `lab gen` refuses what `lab up`
would; `lab up /dev/stdin` reads the file once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile_inputs import CASES, peak_kb, run_lab

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "topologies" / "geneve-router.yaml"


@pytest.mark.parametrize("case", [*CASES, "/dev/zero"])
def test_hostile_input_is_refused_small(case: str, tmp_path: Path) -> None:
    """How fast each is refused is benchmarks/input_limits.py's to measure (no timing here:
    a busy CI machine would fail it); the refusal and the memory bound are tested."""
    if case.startswith("/"):
        path = case
    else:
        path = str(tmp_path / f"{case}.yaml")
        Path(path).write_text(CASES[case]())
    proc, _ = run_lab("up", "--dry-run", path)
    assert proc.returncode == 2, proc.stderr
    assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr
    assert path.encode() in proc.stderr, proc.stderr
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
