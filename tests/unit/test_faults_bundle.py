"""Units of the wire faults, check steps, assert matching, the NFQUEUE delayer's netlink
messages and bundle verification (no root: these are the pure parts)."""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import tarfile
from pathlib import Path

import pytest

from lab.errors import UserError
from lab.fabric import nfqueue_delay
from lab.ops import wirefaults
from lab.report import bundle
from lab.topology.impairments import impairment
from lab.topology.steps import assert_command
from lab.verify.steps import json_path, matches


def test_impairment_ranges() -> None:
    imp = impairment(50, 5, 5, None)
    assert (imp.delay_ms, imp.jitter_ms, imp.loss_pct, imp.rate_mbit) == (50, 5, 5, None)
    assert imp.describe() == "delay 50 ms ±5, loss 5 %"
    for bad in (
        {"loss_pct": 101},
        {"loss_pct": -1},
        {"delay_ms": 70_000},
        {"rate_mbit": 0},
        {"delay_ms": "soon"},
        {"delay_ms": True},
        {"jitter_ms": 3},
        {"delay_ms": 1, "jitter_ms": 3},
    ):
        with pytest.raises(UserError):
            impairment(**bad)
    assert impairment().empty


def test_fault_lines_for_status() -> None:
    from lab.state.store import LabState

    state = LabState(
        name="x",
        info={
            "faults": {
                "links": {"worker1/overlay": "down"},
                "impair": {
                    "gw1/overlay": {
                        "delay_ms": 50,
                        "jitter_ms": 0,
                        "loss_pct": 5,
                        "rate_mbit": None,
                        "queue": 100,
                        "pid": 1,
                    }
                },
                "partitions": {"central|worker1": ["overlay"]},
            }
        },
    )
    assert wirefaults.describe(state) == [
        "link worker1 overlay is down",
        "impair gw1 overlay: delay 50 ms, loss 5 %",
        "partition central <-> worker1 on overlay",
    ]


def test_assert_command_and_matching() -> None:
    assert assert_command({"sbctl": ["show"], "match": "x"}) == ("sbctl", ["show"])
    assert assert_command({"on": "vm1", "run": ["ip", "-j", 4], "json": {"a": 1}}) == (
        "on",
        ["ip", "-j", "4"],
    )
    for bad in (
        {"on": "vm1", "run": "ip link", "match": "x"},
        {"on": "vm1", "run": [], "match": "x"},
        {"run": ["ip"], "match": "x"},
        {"nbctl": ["show"], "on": "central", "match": "x"},
        {"nbctl": ["show"]},
        {"nbctl": ["show"], "match": "("},
        {"nbctl": ["show"], "match": "x", "within_s": -1},
    ):
        with pytest.raises(UserError):
            assert_command(bad)
    assert matches({"match": "^true$"}, 0, "true\n") == (True, "")
    assert not matches({"match": "^true$"}, 0, "false\n")[0]
    assert not matches({"match": "."}, 1, "x")[0]
    assert matches({"match": ".", "exit": 1}, 1, "x")[0]
    doc = json.dumps({"data": [["vm1", 3]]})
    assert matches({"json": {"data.0.0": "vm1", "data.0.1": 3}}, 0, doc)[0]
    assert matches({"json": {"data.0.1": 4}}, 0, doc) == (False, "data.0.1 is 3, not 4")
    assert not matches({"json": {"data.5": 1}}, 0, doc)[0]
    assert json_path({"a": [{"b": 2}]}, "a.0.b") == 2


def test_nfqueue_messages() -> None:
    bind = nfqueue_delay.bind_messages(7)
    length, kind, flags, _, _ = struct.unpack_from("=IHHII", bind[0])
    assert length == len(bind[0]) and kind == (3 << 8) | 2 and flags & 4
    assert struct.unpack_from("!H", bind[0], 18)[0] == 7  # res_id = queue, big-endian
    verdict = nfqueue_delay.verdict(7, 42)
    assert struct.unpack_from("!II", verdict, len(verdict) - 8) == (1, 42)
    # a queued-packet message as the kernel sends it: nlmsghdr, nfgenmsg, NFQA_PACKET_HDR
    attr = struct.pack("=HH", 11, 1) + struct.pack("!IHB", 99, 0x0800, 2) + b"\0"
    body = struct.pack("=BBH", 2, 0, 0) + attr
    packet = struct.pack("=IHHII", 16 + len(body), 3 << 8, 0, 0, 0) + body
    error = struct.pack("=IHHII", 36, 2, 0, 0, 0) + struct.pack("=i", -1) + b"\0" * 16
    assert nfqueue_delay.packet_ids(packet + error) == ([99], [1])
    rng = random.Random(1)
    times = [nfqueue_delay.release_at(10.0, 50, 5, rng) for _ in range(100)]
    assert all(10.045 <= t <= 10.055 for t in times)


def _bundle(
    tmp_path: Path, files: dict[str, bytes], fmt: int = 1, tamper: str | None = None
) -> Path:
    listed = {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
    if tamper:
        listed[tamper] = "0" * 64
    manifest = json.dumps({"format": fmt, "lab": "demo", "files": listed}).encode()
    path = tmp_path / "b.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {"MANIFEST.json": manifest, **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


GOOD = {
    "topology.yaml": b"name: demo\n",
    "db/nb.db": b"OVSDB JSON 1 0\n",
    "lab.json": b'{"name": "demo", "provider": "docker", "topology": "/x/demo.yaml"}',
}


def test_bundle_read_verifies_manifest(tmp_path: Path) -> None:
    found = bundle.read(_bundle(tmp_path, GOOD))
    try:
        assert (found.lab, found.provider, found.topology_name) == ("demo", "docker", "demo.yaml")
        assert found.nb.read_bytes() == GOOD["db/nb.db"]
    finally:
        import shutil

        shutil.rmtree(found.directory)
    with pytest.raises(UserError, match="does not match its MANIFEST"):
        bundle.read(_bundle(tmp_path, GOOD, tamper="db/nb.db"))
    with pytest.raises(UserError, match="newer than this ovn-lab"):
        bundle.read(_bundle(tmp_path, GOOD, fmt=2))
    with pytest.raises(UserError, match=r"holds no db/nb\.db"):
        bundle.read(_bundle(tmp_path, {k: v for k, v in GOOD.items() if k != "db/nb.db"}))
    with pytest.raises(UserError, match="not a plain relative file"):
        bundle.read(_bundle(tmp_path, {**GOOD, "../evil": b"x"}))
    (tmp_path / "junk.tar.gz").write_text("nope")
    with pytest.raises(UserError, match="not a readable lab bundle"):
        bundle.read(tmp_path / "junk.tar.gz")


def test_detrace_annotates_flows_parsed_by_ovs_flow() -> None:
    from lab.verify import detrace

    dump = (Path(__file__).parent / "data" / "dump-flows-table65.txt").read_text()
    cookies = [int(c, 16) for c in __import__("re").findall(r"cookie=0x([0-9a-f]+)", dump)]
    cookie = next(c for c in cookies if c)
    owner = detrace.Origin("Port_Binding", f"{cookie:08x}-0000", "Port_Binding vm2")
    flows = detrace.annotate(dump, {cookie: [owner]})
    assert len(flows) == len(cookies)
    assert {f.table for f in flows} == {65}
    traced = [f for f in flows if f.origins]
    assert traced and all(f.cookie == cookie for f in traced)
    assert not [f for f in flows if f.cookie == 0 and f.origins]


def test_detrace_names_the_datapath_of_a_group_flow_by_metadata() -> None:
    from lab.verify import detrace

    origin = detrace.Origin(
        "Logical_Flow", "2e36ca1d-x", "lflow 2e36ca1d {dp} ingress", {1: "n1", 2: "n2"}
    )
    line = " cookie=0x2e36ca1d, table=33, priority=110,tcp,metadata=0x2 actions=drop"
    (flow,) = detrace.annotate(line, {0x2E36CA1D: [origin]})
    assert flow.metadata == 2 and flow.lines == ["lflow 2e36ca1d n2 ingress"]
    assert origin.line(None) == "lflow 2e36ca1d n1,n2 ingress"
