"""`lab bundle` writes a running lab into one .tar.gz a bug report can carry; `lab up
--bundle` builds the same lab again from it, elsewhere, with the Northbound database
restored from the bundle (not regenerated from the topology): whatever was changed by hand
in the NB travels too.

The bundle holds MANIFEST.json (format version, lab, sha256 of every other file), the
topology, consistent snapshots of the NB and SB (`ovsdb-client backup`, standalone format
even from a raft cluster) with each central's raft status, every chassis' conf.db, the
daemons' logs, `ovs-vsctl show` per chassis, `ovn-nbctl show` / `ovn-sbctl show`, the
versions, `lab status --json` and the last `lab check --json`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lab.errors import UserError
from lab.naming import DEFAULT_PROVIDER
from lab.providers.targets import centrals_of
from lab.runner import run
from lab.state.saved import saved_topology_path
from lab.state.store import LabState, node_dir

FORMAT = 1
MANIFEST = "MANIFEST.json"
NB_FILE = "db/nb.db"
SB_FILE = "db/sb.db"
TOPOLOGY_FILE = "topology.yaml"
MAX_MEMBER_BYTES = 1 << 30  # a bundle member larger than this is not ours


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _backup(sock: Path, db: str) -> bytes:
    proc = run(["ovsdb-client", "backup", f"unix:{sock}", db], check=False, timeout=60)
    if proc.returncode != 0:
        return b""
    return proc.stdout.encode()


def _text(argv: list[str], netns: str | None = None, env: dict[str, str] | None = None) -> str:
    proc = run(argv, netns=netns, env=env, check=False, timeout=60)
    return f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}"


def collect(state: LabState) -> dict[str, bytes]:
    """Every file of the bundle but the MANIFEST: path inside the bundle -> bytes."""
    from lab.ops.status import lab_status
    from lab.ovn.central import NB, SB
    from lab.ovn.wait import nb_db, sb_db
    from lab.providers.targets import netns_env

    files: dict[str, bytes] = {}
    files[TOPOLOGY_FILE] = saved_topology_path(state).read_bytes()
    centrals = centrals_of(state)
    nodes = state.info.nodes
    for db, name, path in ((NB, "OVN_Northbound", NB_FILE), (SB, "OVN_Southbound", SB_FILE)):
        for central in centrals:  # the first that answers (any cluster member has it all)
            data = _backup(db.sock(central), name)
            if data:
                files[path] = data
                break
        else:
            raise UserError(
                f"the {name} database of lab {state.name} does not answer; see `lab status`"
            )
        for central in centrals:
            if len(centrals) > 1:
                status = _text(["ovs-appctl", "-t", str(db.ctl(central)), "cluster/status", name])
                files[f"db/raft-{central.name}-{db.kind}.txt"] = status.encode()
    files["show/ovn-nbctl-show.txt"] = _text(
        ["ovn-nbctl", f"--db={nb_db(centrals)}", "show"]
    ).encode()
    files["show/ovn-sbctl-show.txt"] = _text(
        ["ovn-sbctl", f"--db={sb_db(centrals)}", "show"]
    ).encode()
    versions = [_text([tool, "--version"]) for tool in ("ovs-vswitchd", "ovn-northd")]
    for name, info in nodes.items():
        directory = node_dir(state, name)
        if info.role in ("chassis", "gateway"):
            sock = directory / "db.sock"
            conf = _backup(sock, "Open_vSwitch")
            if conf:
                files[f"nodes/{name}/conf.db"] = conf
            netns, env = netns_env(state, name)
            files[f"nodes/{name}/ovs-vsctl-show.txt"] = _text(
                ["ovs-vsctl", f"--db=unix:{sock}", "show"]
            ).encode()
            versions.append(f"[{name}]\n" + _text(["ovn-controller", "--version"], netns, env))
        for log in sorted(directory.glob("*.log")):
            files[f"logs/{name}/{log.name}"] = log.read_bytes()
    files["versions.txt"] = "\n".join(versions).encode()
    status = {"labs": [lab_status(state).to_dict()]}
    files["status.json"] = (json.dumps(status, indent=1, default=str) + "\n").encode()
    last = state.dir / "last-check.json"
    if last.exists():
        files["last-check.json"] = last.read_bytes()
    lab = {"name": state.name, "provider": state.provider, "topology": state.topology}
    files["lab.json"] = (json.dumps(lab, indent=1) + "\n").encode()
    return files


def write(state: LabState, output: Path) -> tuple[int, float]:
    """Write the bundle (atomically: a failure leaves no file). Returns (files, seconds)."""
    if state.phase != "up":
        raise UserError(f"lab {state.name} is not up (phase {state.phase}); bundle a running lab")
    if not output.parent.is_dir():
        raise UserError(f"directory {output.parent} does not exist; create it or pick another -o")
    start = time.monotonic()
    files = collect(state)
    manifest = {
        "format": FORMAT,
        "lab": state.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": {path: _sha256(data) for path, data in sorted(files.items())},
    }
    files = {MANIFEST: (json.dumps(manifest, indent=1) + "\n").encode(), **files}
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for path, data in files.items():
                member = tarfile.TarInfo(path)
                member.size = len(data)
                member.mtime = int(time.time())
                member.mode = 0o600
                tar.addfile(member, io.BytesIO(data))
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(files), time.monotonic() - start


# --- reading a bundle -------------------------------------------------------------------------


@dataclass
class Bundle:
    lab: str
    topology: str  # the topology text
    topology_name: str  # the file name it had
    provider: str
    directory: Path  # where the bundle was unpacked (caller removes it)

    @property
    def nb(self) -> Path:
        return self.directory / NB_FILE


def read(path: Path) -> Bundle:
    """Unpack and verify a bundle; UserError (nothing unpacked is left) for a bad one."""
    try:
        tar = tarfile.open(path, mode="r:gz")  # noqa: SIM115 (closed below, after checks)
    except (OSError, tarfile.TarError) as exc:
        raise UserError(
            f"{path} is not a readable lab bundle ({exc}); make one with `lab bundle`"
        ) from None
    directory = Path(tempfile.mkdtemp(prefix="ovn-lab-bundle-"))
    try:
        with tar:
            data = _members(tar, path)
        try:
            manifest = json.loads(data.pop(MANIFEST))
        except (KeyError, ValueError):
            raise UserError(f"{path} has no readable {MANIFEST}; it is not a lab bundle") from None
        fmt = manifest.get("format")
        if not isinstance(fmt, int) or fmt > FORMAT:
            raise UserError(
                f"{path} is bundle format {fmt}, newer than this ovn-lab reads ({FORMAT}); "
                "upgrade ovn-lab"
            )
        listed = manifest.get("files", {})
        for name in sorted(set(listed) | set(data)):
            if name not in data:
                raise UserError(f"{path}: MANIFEST lists {name}, which the bundle does not hold")
            if name not in listed or listed[name] != _sha256(data[name]):
                raise UserError(
                    f"{path}: {name} does not match its MANIFEST hash; the bundle was changed"
                )
        for required in (TOPOLOGY_FILE, NB_FILE, "lab.json"):
            if required not in data:
                raise UserError(f"{path} holds no {required}; it cannot be rebuilt")
        for name, content in data.items():
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        lab = json.loads(data["lab.json"])
        return Bundle(
            lab=str(lab["name"]),
            topology=data[TOPOLOGY_FILE].decode(),
            topology_name=Path(str(lab.get("topology") or "topology.yaml")).name,
            provider=str(lab.get("provider", DEFAULT_PROVIDER)),
            directory=directory,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _members(tar: tarfile.TarFile, path: Path) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    for member in tar.getmembers():
        name = member.name
        if not member.isfile() or name.startswith("/") or ".." in Path(name).parts:
            raise UserError(
                f"{path}: member {name!r} is not a plain relative file; not a lab bundle"
            )
        if member.size > MAX_MEMBER_BYTES:
            raise UserError(f"{path}: member {name} is too large for a lab bundle")
        handle = tar.extractfile(member)
        assert handle is not None
        data[name] = handle.read()
    return data
