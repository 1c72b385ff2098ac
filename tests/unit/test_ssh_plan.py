"""The ssh provider's pure parts: inventory -> hosts, nodes -> hosts, what an ssh lab can be,
the hosts' addresses put into the plan, and the commands that make VMs on a host."""

from __future__ import annotations

import ipaddress
import shlex
from pathlib import Path

import pytest

from lab.errors import UserError
from lab.plan.planner import make_plan
from lab.providers.ssh import build as ssh_build
from lab.providers.ssh import place as ssh_place
from lab.providers.ssh import probe
from lab.providers.ssh.transport import HostSpec, hosts_from_inventory_json, place_nodes
from lab.topology import load_topology

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "topologies" / "geneve-router.yaml"

# what `ansible-inventory --list` prints for a Vagrant-written inventory
VAGRANT_LIST = {
    "_meta": {
        "hostvars": {
            "central": {
                "ansible_host": "127.0.0.1",
                "ansible_port": 2222,
                "ansible_user": "vagrant",
                "ansible_ssh_private_key_file": "keys/central",
                "ovn_underlay_if": "eth1",
            },
            "worker1": {"ansible_host": "127.0.0.1", "ansible_port": "2200"},
        }
    },
    "all": {"children": ["ungrouped", "central", "chassis"]},
    "central": {"hosts": ["central"]},
    "chassis": {"hosts": ["worker1", "worker2"]},
}


def test_inventory_hosts_with_their_connection_and_underlay() -> None:
    hosts = hosts_from_inventory_json(VAGRANT_LIST, Path("/inv"))
    assert set(hosts) == {"central", "worker1", "worker2"}
    central = hosts["central"]
    assert (central.address, central.port, central.user) == ("127.0.0.1", 2222, "vagrant")
    assert central.key_file == "/inv/keys/central"  # relative to the inventory, as Ansible
    assert central.underlay_if == "eth1"
    assert hosts["worker1"].port == 2200 and hosts["worker1"].user == "root"
    # a host without vars is reached by its name on port 22
    assert hosts["worker2"] == HostSpec("worker2", "worker2")
    assert HostSpec.from_json(central.to_json()) == central


def test_nodes_placed_by_name_or_host_key() -> None:
    hosts = {n: HostSpec(n, f"192.0.2.{i}") for i, n in enumerate(["a", "b", "c"], 1)}
    placed = place_nodes({"central": "a", "b": None}, hosts, Path("inv"))
    assert placed == {"central": hosts["a"], "b": hosts["b"]}


def test_node_without_a_host_is_one_clear_error() -> None:
    hosts = {"a": HostSpec("a", "192.0.2.1")}
    with pytest.raises(UserError, match=r"no host for node\(s\) worker1 \(host 'worker1'\)"):
        place_nodes({"a": None, "worker1": None}, hosts, Path("inv"))


def test_a_central_shares_its_host_with_no_node() -> None:
    hosts = {"a": HostSpec("a", "192.0.2.1")}
    roles = {"x": "central", "y": "chassis"}
    with pytest.raises(UserError, match=r"all placed on host a.*not x"):
        place_nodes({"x": "a", "y": "a"}, hosts, Path("inv"), roles)


def test_several_chassis_on_one_host_by_host_key() -> None:
    hosts = {n: HostSpec(n, f"192.0.2.{i}") for i, n in enumerate(["c", "s1"], 1)}
    roles = {"central": "central", "hv1": "chassis", "hv2": "gateway"}
    placed = place_nodes({"central": "c", "hv1": "s1", "hv2": "s1"}, hosts, Path("inv"), roles)
    assert placed == {"central": hosts["c"], "hv1": hosts["s1"], "hv2": hosts["s1"]}


def test_chassis_per_host_fills_the_chassis_hosts_in_order() -> None:
    hosts = {n: HostSpec(n, f"192.0.2.{i}") for i, n in enumerate(["central", "s1", "s2"], 1)}
    nodes: dict[str, str | None] = {"central": None, **{f"hv{i}": None for i in range(1, 6)}}
    roles = {n: "central" if n == "central" else "chassis" for n in nodes}
    placed = place_nodes(nodes, hosts, Path("inv"), roles, 3, ["s1", "s2"])
    assert {n: h.name for n, h in placed.items()} == {
        "central": "central", "hv1": "s1", "hv2": "s1", "hv3": "s1", "hv4": "s2", "hv5": "s2",
    }  # fmt: skip
    with pytest.raises(UserError, match=r"6 chassis need a host.*room for 4 at 2 per host"):
        place_nodes({**nodes, "hv6": None}, hosts, Path("inv"), {**roles, "hv6": "chassis"}, 2,
                    ["s1", "s2"])  # fmt: skip


def test_inventory_groups_in_order() -> None:
    from lab.providers.ssh.transport import group_hosts

    assert group_hosts(VAGRANT_LIST, ["chassis", "gateway"]) == ["worker1", "worker2"]


def test_guests_get_free_addresses_from_the_top_of_the_hosts_subnet() -> None:
    from lab.providers.ssh.transport import Pool

    topo = load_topology(SEED)
    subnet = ipaddress.ip_network("192.0.2.0/24")
    host = ssh_place.Underlay("eth1", "192.0.2.254/24", "02:00:00:00:00:01", "netdev")
    central = ssh_place.Underlay("eth1", "192.0.2.10/24", "02:00:00:00:00:02", "netdev")
    placed = ssh_place.Placement(
        {}, {"central": central, "worker1": host, "worker2": host}, subnet,
        Pool(Path("/nonexistent")), Path("inv"), Path("kh"), guests=["worker1", "worker2"],
    )  # fmt: skip
    ssh_place.guest_addresses(topo, placed)
    assert placed.underlay["worker1"].address == "192.0.2.253/24"  # .254 is the host's
    assert placed.underlay["worker2"].address == "192.0.2.252/24"
    assert placed.underlay["worker2"].interface == "eth1"  # the macvlan's parent
    assert placed.underlay["worker2"].mac == "02:00:c0:00:02:fc"
    ssh_place.with_host_addresses(topo, placed.underlay, subnet)
    plan = make_plan(topo)
    assert str(plan.nodes["worker2"].encap_ip) == "192.0.2.252"
    # a guest's own address: kept when free, refused when a host has it
    from lab.topology.model import Link

    topo = load_topology(SEED)
    topo.nodes["worker1"].links = [Link(fabric="overlay", address="192.0.2.10/24")]
    placed.underlay = {"central": central, "worker1": host, "worker2": host}
    with pytest.raises(UserError, match=r"overlay address 192\.0\.2\.10 is taken"):
        ssh_place.guest_addresses(topo, placed)


def test_a_guest_chassis_is_the_netns_bring_up_as_argv() -> None:
    from pathlib import PurePosixPath

    from lab.ovn.chassis import remote_chassis_commands

    plan = make_plan(load_topology(SEED))
    node = plan.nodes["worker1"]
    d = PurePosixPath("/run/ovn-lab/lab1/worker1")
    cmds, controller = remote_chassis_commands(plan, node, d)
    assert cmds[0][:2] == ["ovsdb-tool", "create"]
    inside = ["ip", "netns", "exec", node.netns, "env"]
    assert cmds[1][:5] == inside and "ovsdb-server" in cmds[1]
    assert f"--pidfile={d}/ovsdb-server.pid" in cmds[1]
    assert cmds[2][:2] == ["ovs-vsctl", f"--db=unix:{d}/db.sock"]
    assert "external_ids:system-id=worker1" in cmds[2]
    assert "ovs-vswitchd" in cmds[3] and f"--log-file={d}/ovs-vswitchd.log" in cmds[3]
    assert cmds[-1][-2:] == ["dev", "br-overlay"]
    assert controller[:5] == inside and "ovn-controller" in controller


@pytest.mark.parametrize(
    ("topology", "says"),
    [
        ("vlan-l3ha.yaml", "only the overlay fabric"),
        ("ha-central.yaml", "exactly one central"),
    ],
)
def test_what_ssh_labs_cannot_be_yet(topology: str, says: str) -> None:
    plan = make_plan(load_topology(REPO / "topologies" / topology))
    with pytest.raises(UserError, match=says):
        ssh_place.supported(plan)


def test_ssl_is_an_ssh_lab_too() -> None:
    topo = load_topology(SEED)
    topo.ssl = True
    plan = make_plan(topo)
    ssh_place.supported(plan)  # no refusal: lab.providers.ssh.tls puts the lab's PKI on the hosts
    assert plan.sb_remote.startswith("ssl:")  # what each chassis' ovn-remote becomes


def test_ssl_files_on_a_host_stay_in_the_labs_own_directory() -> None:
    from lab.providers.ssh import tls as ssh_ssl

    files = ssh_ssl.host_files("sshtls", "worker1")
    assert str(files.private_key) == "/run/ovn-lab/sshtls/pki/worker1-privkey.pem"
    assert files.vsctl_set_ssl() == [
        "set-ssl",
        "/run/ovn-lab/sshtls/pki/worker1-privkey.pem",
        "/run/ovn-lab/sshtls/pki/worker1-cert.pem",
        "/run/ovn-lab/sshtls/pki/cacert.pem",
    ]
    assert all(f.startswith("/run/ovn-lab/sshtls/") for f in ssh_ssl.northd_files("sshtls"))


def test_restoring_ssl_rows() -> None:
    from lab.providers.ssh import tls as ssh_ssl

    assert ssh_ssl._set_back("ovs-vsctl", None) == ["ovs-vsctl", "del-ssl"]
    assert ssh_ssl._set_back("ovn-nbctl", ["/k", "/c", "/ca"]) == [
        "ovn-nbctl", "set-ssl", "/k", "/c", "/ca",
    ]  # fmt: skip


def test_playbook_listeners_bind_the_underlay_address_only() -> None:
    import jinja2
    import yaml

    defaults = REPO / "lab" / "data" / "playbooks" / "roles" / "ovn_central" / "defaults"
    values = yaml.safe_load((defaults / "main.yml").read_text())
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for address, shown in (("192.0.2.21", "192.0.2.21"), ("2001:db8::21", "[2001:db8::21]")):
        listen = env.from_string(values["ovn_listen_address"]).render(ovn_node_address=address)
        for key, port in (("ovn_nb_listen", 6641), ("ovn_sb_listen", 6642)):
            rendered = env.from_string(values[key]).render(ovn_listen_address=listen.strip())
            assert rendered == f"ptcp:{port}:{shown}"


def test_seed_is_supported_and_takes_the_hosts_addresses() -> None:
    topo = load_topology(SEED)
    ssh_place.supported(make_plan(topo))
    found = {
        name: ssh_place.Underlay("eth1", f"203.0.113.{i}/24", "02:00:00:00:00:0{i}", "netdev")
        for i, name in enumerate(["central", "worker1", "worker2"], 1)
    }
    ssh_place.with_host_addresses(topo, found, ipaddress.ip_network("203.0.113.0/24"))
    plan = make_plan(topo)
    assert plan.sb_remote == "tcp:203.0.113.1:6642"
    assert str(plan.nodes["worker2"].encap_ip) == "203.0.113.3"
    assert ssh_build.plan_switches(plan) == ["network1", "network2"]
    assert ssh_build.plan_routers(plan) == ["router1"]


def test_vm_commands_plug_then_configure_in_the_namespace() -> None:
    from lab.plan.commands import vm_commands

    plan = make_plan(load_topology(SEED))
    vm = plan.vms_on("worker1")[0]
    cmds = vm_commands(vm, None, owner="lab1")  # on the chassis' own host
    assert cmds[0] == ["ip", "netns", "add", vm.netns]
    vsctl = next(c for c in cmds if c[0] == "ovs-vsctl")
    assert f"external_ids:iface-id={vm.port}" in vsctl
    assert "external_ids:ovn-lab=lab1" in vsctl  # tagged with its lab
    assert ["ip", "link", "set", vm.chassis_if, "netns", vm.netns] in cmds
    assert ["ip", "-n", vm.netns, "route", "add", "default", "via", "10.0.0.1"] in cmds
    # in a chassis namespace (what `lab plan` prints), untagged
    inside = vm_commands(vm, "lab1-worker1")
    assert ["ip", "-n", "lab1-worker1", "link", "set", vm.chassis_if, "netns", vm.netns] in inside
    assert not any("external_ids:ovn-lab=lab1" in c for c in inside)
    # one remote shell script, every argv quoted: a name can never become shell syntax
    script = probe.script([["echo", "a; rm -rf /"], ["true"]])
    assert [shlex.split(line) for line in script.splitlines()] == [
        ["echo", "a; rm -rf /"],
        ["true"],
    ]


def test_agent_tells_a_vswitchd_its_tunnel_peers_on_one_connection(tmp_path: Path) -> None:
    """vm_agent neigh speaks unixctl's JSON-RPC: one request per peer, each answered."""
    import json
    import socket
    import threading

    from lab.vm import vm_agent

    (tmp_path / "ovs-vswitchd.pid").write_text("4242\n")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "ovs-vswitchd.4242.ctl"))
    server.listen(1)
    got: list[dict[str, object]] = []

    def answer() -> None:
        conn, _ = server.accept()
        decoder, buf = json.JSONDecoder(), ""
        with conn:
            while len(got) < 2:
                buf += conn.recv(4096).decode()
                while buf.strip():
                    try:
                        request, end = decoder.raw_decode(buf.lstrip())
                    except ValueError:
                        break
                    buf = buf.lstrip()[end:]
                    got.append(request)
                    reply = {"id": request["id"], "result": "OK", "error": None}
                    conn.sendall(json.dumps(reply).encode())

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    lines = ["192.0.2.31 02:00:c0:00:02:1f", "192.0.2.254 02:00:c0:00:02:fe"]
    assert vm_agent.neigh(str(tmp_path), "br-overlay", lines) == 0
    thread.join(5)
    server.close()
    assert [r["params"] for r in got] == [
        ["br-overlay", "192.0.2.31", "02:00:c0:00:02:1f"],
        ["br-overlay", "192.0.2.254", "02:00:c0:00:02:fe"],
    ]
    assert {r["method"] for r in got} == {"tnl/neigh/set"}
