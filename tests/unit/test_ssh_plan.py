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


def test_two_nodes_on_one_host_are_refused() -> None:
    hosts = {"a": HostSpec("a", "192.0.2.1")}
    with pytest.raises(UserError, match="all placed on host a"):
        place_nodes({"x": "a", "y": "a"}, hosts, Path("inv"))


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
