"""Wire faults (link, impair, partition), bundles, --detrace and pcaps on real labs; the
shipped sb-partition scenario. One seed lab serves the module."""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.verify import pcap

from .conftest import (
    assert_nothing_left,
    host_links,
    lab,
    live_processes,
    namespaces,
    ping,
    running_lab,
)

pytestmark = pytest.mark.root
NAME = "tflt"


@pytest.fixture(scope="module")
def seed() -> Iterator[str]:
    with running_lab("geneve-router.yaml", NAME):
        yield NAME
    assert not _delayers(), "an nfqueue delay process outlived lab down"


def _delayers() -> list[str]:
    return [cmd for _, cmd in live_processes() if "lab.fabric.nfqueue_delay" in cmd]


def _rtt(lab_name: str) -> float:
    result = ping(lab_name, "vm1", "20.0.0.10", count=5)
    assert result.returncode == 0, result.stdout + result.stderr
    return float(re.search(r"= [\d.]+/([\d.]+)/", result.stdout).group(1))  # type: ignore[union-attr]


def _status(lab_name: str) -> str:
    return lab("status", lab_name).stdout


def test_impair_delays_each_direction_and_clears(seed: str) -> None:
    assert _rtt(seed) < 20
    lab("impair", "--lab", seed, "worker1", "overlay", "--delay", "40", check=True)
    assert 75 <= _rtt(seed) < 200  # 40 ms each way across worker1's wire
    assert "impair worker1 overlay: delay 40 ms" in _status(seed)
    assert _delayers()
    lab("impair", "--lab", seed, "worker1", "overlay", "--loss", "100", check=True)  # replaces
    assert ping(seed, "vm1", "20.0.0.10", count=2).returncode != 0
    lab("impair", "--lab", seed, "worker1", "overlay", "--clear", check=True)
    assert _rtt(seed) < 20
    assert "impair" not in _status(seed) and not _delayers()


def test_link_down_and_up(seed: str) -> None:
    lab("link", "--lab", seed, "worker2", "overlay", "down", check=True)
    assert ping(seed, "vm1", "20.0.0.10", count=2).returncode != 0
    assert "link worker2 overlay is down" in _status(seed)
    lab("link", "--lab", seed, "worker2", "overlay", "up", check=True)
    assert ping(seed, "vm1", "20.0.0.10", count=3).returncode == 0


def _central_address(lab_name: str) -> str:
    from lab.state.store import load_state

    state = load_state(lab_name)
    assert state is not None
    return str(state.info.nodes["central"].links["overlay"].address).split("/")[0]


def test_partition_from_central_keeps_tunnels(seed: str) -> None:
    central = _central_address(seed)
    reach = ["exec", "--lab", seed, "worker1", "--", "ping", "-c5", "-i0.5", "-W2", central]
    assert lab(*reach).returncode == 0
    lab("partition", "--lab", seed, "worker1", "--from", "central", check=True)
    # the central is unreachable from worker1, worker2 is not
    assert lab(*reach).returncode != 0
    assert ping(seed, "vm1", "20.0.0.10", count=3).returncode == 0
    assert "partition central <-> worker1 on overlay" in _status(seed)
    lab("partition", "--lab", seed, "worker1", "--from", "central", "--heal", check=True)
    assert lab(*reach).returncode == 0


BAD = [
    (("impair", "worker1", "overlay", "--loss", "101"), "out of range"),
    (("impair", "worker1", "overlay", "--delay", "-1"), "out of range"),
    (("impair", "worker1", "overlay", "--jitter", "5"), "needs a delay"),
    (("impair", "worker1", "overlay"), "at least one of"),
    (("impair", "worker1", "overlay", "--clear"), "not impaired"),
    (("partition", "worker1", "--from", "worker1"), "from itself"),
    (("partition", "worker1", "--from", "nobody"), "not a node"),
    (("partition", "worker1", "--from", "central", "--heal"), "not partitioned"),
    (("link", "worker1", "external", "down"), "not on fabric"),
    (("link", "worker1", "overlay", "up"), "not down"),
    (("link", "vm1", "overlay", "down"), "not a node"),
]


def test_bad_fault_commands_change_nothing(seed: str, tmp_path: Path) -> None:
    from lab.state.store import lab_dir

    before = (lab_dir(seed) / "state.json").read_bytes()
    for args, words in BAD:
        proc = lab(args[0], "--lab", seed, *args[1:])
        assert proc.returncode == 2, f"{args}: {proc.returncode} {proc.stderr}"
        assert words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert (lab_dir(seed) / "state.json").read_bytes() == before


def test_detrace_names_logical_flows(seed: str) -> None:
    proc = lab("flows", "--lab", seed, "worker2", "--detrace", check=True)
    assert re.search(r"<- lflow \w{8} network2 ingress table=\d+ \(ls_in_\w+\)", proc.stdout)
    assert "<- Port_Binding vm2" in proc.stdout
    traced = re.search(r"(\d+) flows, (\d+) traced", proc.stdout + proc.stderr)
    assert traced and int(traced.group(2)) > 0.8 * int(traced.group(1))


def test_capture_writes_a_pcap_with_ovn_geneve(seed: str, tmp_path: Path) -> None:
    out = tmp_path / "w2.pcap"
    capture = subprocess.Popen(
        [*lab_argv(), "capture", "--lab", seed, "worker2", "-w", str(out), "-c", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(10):  # until tcpdump listens and sees the traffic
        ping(seed, "vm1", "20.0.0.10", count=2)
        if capture.poll() is not None:
            break
    capture.communicate(timeout=30)
    packets = pcap.geneve(out.read_bytes())
    assert len(packets) == 4
    assert all(p.option(0x0102, 0x80) for p in packets)
    assert {p.inner.icmp for p in packets if p.inner} <= {"echo request", "echo reply"}


def lab_argv() -> list[str]:
    import sys

    return [sys.executable, "-m", "lab"]


def test_bundle_rebuilds_the_same_nb_and_refuses_bad_bundles(seed: str, tmp_path: Path) -> None:
    lab("nbctl", "--lab", seed, "--", "ls-add", "made-by-hand", check=True)
    bundle = tmp_path / "seed.tar.gz"
    lab("bundle", seed, "-o", str(bundle), check=True)
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("MANIFEST.json").read())  # type: ignore[union-attr]
    assert manifest["format"] == 1 and set(manifest["files"]) == set(names) - {"MANIFEST.json"}
    for needed in (
        "db/nb.db",
        "db/sb.db",
        "nodes/worker1/conf.db",
        "logs/central/ovn-northd.log",
        "show/ovn-sbctl-show.txt",
        "status.json",
        "versions.txt",
        "topology.yaml",
    ):
        assert needed in names
    # bad bundles: exit 2, one sentence, nothing created
    tampered = _rewrite(bundle, tmp_path / "tampered.tar.gz", {"db/nb.db": b"OVSDB JSON 0 0\n"})
    newer = _rewrite(bundle, tmp_path / "newer.tar.gz", {}, fmt=99)
    for path, words in ((tampered, "does not match"), (newer, "newer than")):
        proc = lab("up", "--bundle", str(path), "--name", "tflt3")
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
        assert not [n for n in namespaces() if n.startswith("tflt3.")]
    proc = lab("bundle", "nosuchlab", "-o", str(tmp_path / "x.tar.gz"))
    assert proc.returncode == 2 and not (tmp_path / "x.tar.gz").exists()
    # the real thing, side by side with the original
    links = host_links()
    up = lab("up", "--bundle", str(bundle), "--name", "tflt2")
    try:
        assert up.returncode == 0, up.stderr
        switches = lab("nbctl", "--lab", "tflt2", "--", "ls-list", check=True).stdout
        assert "made-by-hand" in switches
        assert ping("tflt2", "vm1", "20.0.0.10").returncode == 0
    finally:
        lab("down", "tflt2", check=True)
        assert_nothing_left("tflt2", links)


def _rewrite(src: Path, dst: Path, replace: dict[str, bytes], fmt: int | None = None) -> Path:
    with tarfile.open(src) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    files.update(replace)
    if fmt is not None:
        manifest = json.loads(files["MANIFEST.json"])
        manifest["format"] = fmt
        files["MANIFEST.json"] = json.dumps(manifest).encode()
    with tarfile.open(dst, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dst


def test_faults_in_place_go_with_lab_down(seed: str) -> None:
    """Leave an impairment and a partition in place: the fixture's `lab down` must remove
    them (the delay process included) with nothing left."""
    lab("impair", "--lab", seed, "worker2", "overlay", "--delay", "5", "--rate", "100", check=True)
    lab("partition", "--lab", seed, "worker2", "--from", "central", check=True)
    assert _delayers()


def test_sb_partition_scenario() -> None:
    with running_lab("sb-partition.yaml", "tsbp"):
        proc = lab("check", "tsbp", timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.count("STEP") == 3
        assert "vm3" not in lab("status", "tsbp").stdout  # the added VM went with the run


def test_lossy_overlay_scenario(tmp_path: Path) -> None:
    report = tmp_path / "lossy.json"
    with running_lab("lossy-overlay.yaml", "tlossy"):
        proc = lab("check", "tlossy", "--json", str(report), timeout=400)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = json.loads(report.read_text())["checks"]
    clean, impaired = [c["evidence"] for c in checks if c["kind"] == "failover"]
    assert clean["outage_s"] is not None and impaired["outage_s"] is not None
    # the impaired ping really crossed a 50 ms-per-crossing overlay
    lossy_ping = next(c for c in checks if c["kind"] == "ping" and c["spec"].get("count") == 10)
    assert lossy_ping["evidence"]["rtt_avg_ms"] > 90
