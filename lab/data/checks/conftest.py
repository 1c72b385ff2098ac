"""What the acceptance suites know about the hosts they check.

Expectations (node roles, addresses, which chassis a VM is on) come from one of:

  OVN_LAB_NAME=mylab     a lab brought up by `lab up` (what `lab test` sets): read from its state
  OVN_LAB_EXPECT=FILE    a YAML/JSON file describing hand-made hosts (see docs/checks.md)

Each `--hosts` entry is matched to a node of the expectations (by the node's `host:` URL, else by
hostname == node name); without `--hosts`, every node and VM of the expectations is checked.
Test modules declare the roles they apply to with `pytestmark = pytest.mark.roles(...)`; a host
only runs the modules for its role (role "vm" for VMs).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import testinfra
import testinfra.backend

# testinfra maps URL schemes to backend class paths in BACKENDS and offers no plugin hook to add
# one, so register ours there (imported on first use: only netns:// and labssh:// hosts need
# ovn-lab).
testinfra.backend.BACKENDS.setdefault("netns", "lab.providers.netns.testinfra.NetnsBackend")
testinfra.backend.BACKENDS.setdefault("labssh", "lab.providers.ssh.testinfra.LabSshBackend")

HOST_PARAM = "_testinfra_host"  # the fixture pytest-testinfra parametrises with --hosts

# daemon -> (rundir it keeps its pidfile in, process name); pidfiles are <rundir>/<daemon>.pid
# as ovs-ctl / ovn-ctl and `lab up` both name them.
DAEMONS = {
    "ovnnb_db": ("ovn", "ovsdb-server"),
    "ovnsb_db": ("ovn", "ovsdb-server"),
    "ovn-northd": ("ovn", "ovn-northd"),
    "ovsdb-server": ("ovs", "ovsdb-server"),
    "ovs-vswitchd": ("ovs", "ovs-vswitchd"),
    "ovn-controller": ("ovn", "ovn-controller"),
}


# --- expectations ---------------------------------------------------------------------------


def load_expectations() -> dict[str, Any]:
    path = os.environ.get("OVN_LAB_EXPECT")
    if path:
        text = Path(path).read_text()
        if path.endswith(".json"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
        return normalise(data or {})
    name = os.environ.get("OVN_LAB_NAME")
    if name:
        from lab.state.store import load_state
        from lab.verify.acceptance import lab_expectations

        state = load_state(name)
        if state is None:
            raise pytest.UsageError(f"OVN_LAB_NAME={name}: no lab of that name is up")
        return normalise(lab_expectations(state))
    raise pytest.UsageError(
        "the acceptance suites need expectations: set OVN_LAB_NAME=<lab> (or run `lab test`), "
        "or OVN_LAB_EXPECT=<file> for hand-made hosts (see docs/checks.md, 'Acceptance suites')"
    )


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """One member table: nodes and VMs (role 'vm'), each with its name; defaults filled in."""
    members: dict[str, dict[str, Any]] = {}
    nodes = data.get("nodes") or {}
    central = next((n for n, e in nodes.items() if e.get("role") == "central"), None)
    central_ip = nodes[central].get("address") if central else None
    for name, entry in nodes.items():
        entry = {"name": name, **entry}
        if entry.get("role") in ("chassis", "gateway"):
            entry.setdefault("system_id", name)
            entry.setdefault("datapath_type", "netdev")
            if central_ip:
                entry.setdefault(
                    "ovn_remote", f"tcp:{central_ip}:{nodes[central].get('sb_port', 6642)}"
                )
        members[name] = entry
    for name, entry in (data.get("vms") or {}).items():
        entry = {"name": name, "role": "vm", "port": name, **entry}
        members[name] = entry
    return {"lab": data.get("lab"), "central": central, "members": members}


EXPECTED: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "roles(*roles): node roles a check module applies to")
    EXPECTED.update(load_expectations())
    if not config.option.hosts:
        config.option.hosts = ",".join(
            m["host"] for m in EXPECTED["members"].values() if m.get("host")
        )
    if not config.option.hosts:
        raise pytest.UsageError("no hosts to check: pass --hosts, or give nodes a `host:` URL")


def connection_options(config: pytest.Config) -> dict[str, Any]:
    """The connection options pytest-testinfra builds its hosts with (same keys, same order)."""
    option = config.option
    return {
        "connection": option.connection,
        "ssh_config": option.ssh_config,
        "ssh_identity_file": option.ssh_identity_file,
        "sudo": option.sudo,
        "sudo_user": option.sudo_user,
        "ansible_inventory": option.ansible_inventory,
        "force_ansible": option.force_ansible,
    }


_HOST_IDS: dict[str, str | None] = {}


def _host_id(name: str) -> str | None:
    """The pytest id testinfra gives the `host:` URL of a member (URLs are normalised by it)."""
    if name not in _HOST_IDS:
        spec = EXPECTED["members"][name].get("host")
        _HOST_IDS[name] = testinfra.backend.get_backend(spec).get_pytest_id() if spec else None
    return _HOST_IDS[name]


def member_of(host: testinfra.host.Host) -> dict[str, Any]:
    """The expectations entry a testinfra host stands for."""
    backend = host.backend
    hid = backend.get_pytest_id()
    members = EXPECTED["members"]
    for name, member in members.items():
        if _host_id(name) == hid:
            return member
    if backend.get_hostname() in members:
        return members[backend.get_hostname()]
    raise pytest.UsageError(
        f"host {hid} is not in the expectations (known: {', '.join(members)}); give the node "
        "a `host:` entry with this URL, or name the node like the host"
    )


def check_name(item: pytest.Item, host_id: str) -> str:
    """`test_x[netns://a@b-ovn-controller]` -> `test_x[ovn-controller]`."""
    name = getattr(item, "originalname", item.name)
    params = item.name[len(name) :].strip("[]").replace(host_id, "", 1).strip("-")
    return f"{name}[{params}]" if params else name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each check only for hosts whose role it declares; label it with node and check."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        host = callspec.params.get(HOST_PARAM) if callspec else None
        if host is None:
            keep.append(item)
            continue
        member = member_of(host)
        marker = item.get_closest_marker("roles")
        if marker and member.get("role") not in marker.args:
            drop.append(item)
            continue
        item.user_properties += [
            ("node", member["name"]),
            ("role", member.get("role", "")),
            ("check", check_name(item, host.backend.get_pytest_id())),
        ]
        keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --- a per-node report for `lab test` (OVN_LAB_REPORT=FILE) -----------------------------------

RESULTS: dict[str, dict[str, Any]] = {}


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr or "")
    text = text.removeprefix("AssertionError: ").removeprefix("Failed: ")
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 300 else first[:297] + "..."


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    props = dict(report.user_properties)
    if "node" not in props:
        return
    row = RESULTS.setdefault(report.nodeid, {**props, "outcome": "passed", "message": ""})
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
        if row["outcome"] in ("passed", "skipped"):
            row.update(outcome=outcome, message=_message(report))
    elif report.skipped and row["outcome"] == "passed":
        row.update(outcome="skipped", message=_message(report))


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("OVN_LAB_REPORT")
    if path:
        Path(path).write_text(json.dumps(list(RESULTS.values()), indent=1) + "\n")


# --- fixtures the checks use ----------------------------------------------------------------


@pytest.fixture(scope="session")
def expected() -> dict[str, Any]:
    """All expectations: {"lab", "central": name, "members": {name: entry}}."""
    return EXPECTED


@pytest.fixture(scope="module")
def node(host: testinfra.host.Host) -> dict[str, Any]:
    """This host's expectations entry (name, role, addresses, ...)."""
    return member_of(host)


@pytest.fixture(scope="module")
def rundirs(host: testinfra.host.Host) -> dict[str, str]:
    """Where this host's OVS and OVN daemons keep pidfiles and sockets (stock defaults unless
    OVS_RUNDIR / OVN_RUNDIR say otherwise, as they do in a lab)."""
    out = host.check_output(
        'echo "${OVS_RUNDIR:-/var/run/openvswitch}"; echo "${OVN_RUNDIR:-/var/run/ovn}"'
    )
    ovs, ovn = out.splitlines()
    return {"ovs": ovs, "ovn": ovn}


@pytest.fixture(scope="module")
def daemon_pid(host: testinfra.host.Host, rundirs: dict[str, str]) -> Callable[[str], int]:
    """daemon_pid("ovn-controller") -> pid of that daemon, asserting it is running."""

    def pid_of(daemon: str) -> int:
        __tracebackhide__ = True
        rundir, comm = DAEMONS[daemon]
        pidfile = host.file(f"{rundirs[rundir]}/{daemon}.pid")
        assert pidfile.exists, f"{daemon} is not running: no pidfile {pidfile.path}"
        text = pidfile.content_string.strip()
        assert text.isdigit(), f"{daemon}: pidfile {pidfile.path} holds {text!r}"
        pid = int(text)
        procs = host.process.filter(pid=pid)
        assert procs, f"{daemon} is not running: pidfile {pidfile.path} names pid {pid}, gone"
        assert procs[0].comm == comm, (
            f"{daemon}: pid {pid} from {pidfile.path} is '{procs[0].comm}', not {comm}"
        )
        assert not str(procs[0].stat).startswith("Z"), f"{daemon} (pid {pid}) is a zombie"
        return pid

    return pid_of


@pytest.fixture(scope="session")
def central_host(request: pytest.FixtureRequest, expected: dict[str, Any]) -> testinfra.host.Host:
    """The central node, where the Southbound DB is asked (also for checks of other hosts):
    the --hosts entry that is the central node, else the central node's `host:` URL."""
    name = expected["central"]
    if not name:
        pytest.skip("no central node in the expectations to ask the Southbound DB")
    options = connection_options(request.config)
    for host in testinfra.get_hosts(request.config.option.hosts.split(","), **options):
        if member_of(host)["name"] == name:
            return host
    spec = expected["members"][name].get("host")
    if not spec:
        pytest.skip(f"central node {name} is not in --hosts and has no `host:` URL")
    return testinfra.get_host(spec, **{k: v for k, v in options.items() if v})


@pytest.fixture(scope="session")
def sbctl(central_host: testinfra.host.Host) -> Callable[..., list[dict[str, Any]]]:
    """sbctl("find", "Encap", "chassis_name=hv1") -> rows as dicts, via ovn-sbctl on central."""

    def run(*args: str) -> list[dict[str, Any]]:
        __tracebackhide__ = True
        cmd = "ovn-sbctl --timeout=5 --format=json " + " ".join(["%s"] * len(args))
        out = central_host.run(cmd, *args)
        assert out.rc == 0, f"ovn-sbctl {' '.join(args)} failed on central: {out.stderr.strip()}"
        return ovsdb_rows(out.stdout)

    return run


@pytest.fixture(scope="module")
def vsctl(host: testinfra.host.Host) -> Callable[..., Any]:
    """vsctl("list", "Bridge") -> rows (with --format=json) or stripped text output."""

    def run(*args: str) -> Any:
        __tracebackhide__ = True
        cmd = "ovs-vsctl --timeout=5 " + " ".join(["%s"] * len(args))
        out = host.run(cmd, *args)
        assert out.rc == 0, f"ovs-vsctl {' '.join(args)}: {out.stderr.strip()}"
        if args and args[0] == "--format=json":
            return ovsdb_rows(out.stdout)
        return out.stdout.strip()

    return run


def ovsdb_rows(text: str) -> list[dict[str, Any]]:
    """`--format=json` table output -> [{column: python value}] (maps -> dict, sets -> list,
    ["uuid", u] -> u)."""
    data = json.loads(text)
    return [dict(zip(data["headings"], map(ovsdb_value, row), strict=True)) for row in data["data"]]


def ovsdb_value(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, body = value
        if kind == "map":
            return {ovsdb_value(k): ovsdb_value(v) for k, v in body}
        if kind == "set":
            return [ovsdb_value(v) for v in body]
        if kind in ("uuid", "named-uuid"):
            return body
    return value
