"""The planner: names, addresses and the commands `lab up` runs, without running them."""

from __future__ import annotations

from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from lab import naming
from lab.errors import UserError
from lab.plan.commands import (
    chassis_ovs_commands,
    chassis_registration,
    transaction,
    vm_ovs_commands,
)
from lab.plan.planner import make_plan
from lab.plan.render import render_plan
from lab.topology import load_topology, parse_topology

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"


@pytest.fixture(scope="module")
def seed():
    return make_plan(load_topology(TOPOLOGIES / "geneve-router.yaml"))


def test_every_resource_is_named_after_the_lab(seed) -> None:
    assert seed.fabric_netns == "geneve-router.fabric"
    assert {n.netns for n in seed.nodes.values()} == {
        "geneve-router.central",
        "geneve-router.worker1",
        "geneve-router.worker2",
    }
    assert {v.netns for v in seed.vms.values()} == {"geneve-router.vm1", "geneve-router.vm2"}


def test_addresses_are_allocated_in_node_order(seed) -> None:
    assert [str(n.link("overlay").address) for n in seed.nodes.values()] == [
        "192.0.2.11/24",
        "192.0.2.12/24",
        "192.0.2.13/24",
    ]
    assert seed.sb_remote == "tcp:192.0.2.11:6642"
    assert str(seed.nodes["worker2"].encap_ip) == "192.0.2.13"


def test_given_addresses_are_kept_and_skipped_by_allocation() -> None:
    plan = make_plan(load_topology(TOPOLOGIES / "two-routers.yaml"))
    assert plan.nodes["hv4"].link("overlay").address == IPv4Interface("192.0.2.44/24")
    allocated = [str(plan.nodes[n].encap_ip) for n in ("hv1", "hv2", "hv3")]
    assert allocated == ["192.0.2.12", "192.0.2.13", "192.0.2.14"]


def test_logical_network_is_the_tutorial_commands(seed) -> None:
    cmds = seed.nb_commands
    assert ["ls-add", "network1"] in cmds
    assert ["lrp-add", "router1", "router1-net1", "40:44:00:00:00:03", "10.0.0.1/24"] in cmds
    assert ["lsp-set-type", "net1-router1", "router"] in cmds
    assert ["lsp-set-options", "net1-router1", "router-port=router1-net1"] in cmds
    assert ["lsp-set-addresses", "vm2", "40:44:00:00:00:02 20.0.0.10"] in cmds
    argv = transaction(cmds)
    assert argv.count("--") == len(cmds) and argv[:3] == ["--", "ls-add", "network1"]


def test_chassis_is_configured_for_the_userspace_datapath(seed) -> None:
    cmds = chassis_ovs_commands(seed, seed.nodes["worker1"])
    flat = [" ".join(c) for c in cmds]
    assert (
        "set Bridge br-int datapath_type=netdev fail_mode=secure "
        "other_config:disable-in-band=true" in flat
    )
    assert "--may-exist add-port br-overlay overlay" in flat
    ids = cmds[-1]
    for item in (
        "external_ids:system-id=worker1",
        "external_ids:hostname=worker1",
        "external_ids:ovn-remote=tcp:192.0.2.11:6642",
        "external_ids:ovn-encap-type=geneve",
        "external_ids:ovn-encap-ip=192.0.2.12",
        "external_ids:ovn-bridge-datapath-type=netdev",
    ):
        assert item in ids
    assert not any("ovn-cms-options" in x for x in ids)


def test_vm_binding_as_in_the_tutorial(seed) -> None:
    assert vm_ovs_commands(seed.vms["vm1"]) == [
        ["--may-exist", "add-port", "br-int", "vm1"],
        ["set", "Interface", "vm1", "external_ids:iface-id=vm1", "type=internal"],
    ]


def test_registration_binds_each_vm_port_to_its_own_chassis(seed) -> None:
    cmds = chassis_registration(seed, "geneve,internal")
    ids = {c[c.index("create") + 2].removeprefix("name="): c[0] for c in cmds if "Chassis" in c}
    assert sorted(ids) == ["worker1", "worker2"]
    binds = {c[2]: c[3] for c in cmds if c[:2] == ["set", "Port_Binding"]}
    assert binds == {
        "vm1": f"chassis={ids['worker1'].removeprefix('--id=')}",
        "vm2": f"chassis={ids['worker2'].removeprefix('--id=')}",
    }
    private = {
        c[2].removeprefix("name="): c[3] for c in cmds if c[:2] == ["create", "Chassis_Private"]
    }
    assert private == {name: f"chassis={ref.removeprefix('--id=')}" for name, ref in ids.items()}
    # each chassis' row is created before the ports that reference it (one transaction)
    first_bind = next(i for i, c in enumerate(cmds) if c[:2] == ["set", "Port_Binding"])
    assert all(i < first_bind for i, c in enumerate(cmds) if c[0] == ids["worker1"])


def test_dry_run_rendering_is_deterministic(seed) -> None:
    text = render_plan(seed)
    assert text == render_plan(make_plan(load_topology(TOPOLOGIES / "geneve-router.yaml")))
    assert "ovn-nbctl lsp-set-options net2-router1 router-port=router1-net2" in text
    assert "ip -n geneve-router.worker1 link set vm1 netns geneve-router.vm1" in text


def test_gateway_and_bridge_mappings() -> None:
    topo = parse_topology(
        """
name: gw
fabric:
  overlay: {subnet: 192.0.2.0/24}
  provider: {vlans: true}
  external: {subnet: 198.51.100.0/24}
nodes:
  central: {role: central}
  gw1: {role: gateway, links: [overlay, provider, external]}
""",
        "gw.yaml",
    )
    plan = make_plan(topo)
    gw = plan.nodes["gw1"]
    assert gw.bridge_mappings == {"provider": "br-provider", "external": "br-external"}
    ids = chassis_ovs_commands(plan, gw)[-1]
    assert "external_ids:ovn-bridge-mappings=provider:br-provider,external:br-external" in ids
    assert "external_ids:ovn-cms-options=enable-chassis-as-gw" in ids
    # chassis links to non-overlay fabrics carry no address (they are OVS bridge ports)
    assert gw.link("external").address is None


def test_full_subnet_is_a_clear_error() -> None:
    topo = parse_topology(
        """
name: tiny
fabric: {overlay: {subnet: 192.0.2.0/30}}
nodes:
  central: {role: central}
  a: {role: chassis}
  b: {role: chassis}
""",
        "tiny.yaml",
    )
    with pytest.raises(UserError, match="no free address"):
        make_plan(topo)


@pytest.mark.parametrize(
    ("base", "suffix", "expected"),
    [("worker1", "-overlay", "worker1-overlay"), ("vm1", "-p", "vm1-p")],
)
def test_short_interface_names_are_kept(base: str, suffix: str, expected: str) -> None:
    assert naming.ifname(base, suffix) == expected


def test_long_interface_names_are_mapped_deterministically() -> None:
    a = naming.fabric_port("compute-a", "provider")
    b = naming.fabric_port("compute-b", "provider")
    assert len(a) == len(b) == 15 and a != b
    assert a == naming.fabric_port("compute-a", "provider")
    assert a.startswith("compute-a-p")


@pytest.fixture(scope="module")
def ha():
    return make_plan(load_topology(TOPOLOGIES / "ha-central.yaml"))


def test_one_central_keeps_its_plain_remotes(seed) -> None:
    assert seed.centrals == ["central"] and not seed.clustered and not seed.ssl
    assert seed.sb_remote == "tcp:192.0.2.11:6642"
    text = render_plan(seed)
    assert "create-cluster" not in text and "join-cluster" not in text
    assert "ovn-northd --detach\n" in text


def test_three_centrals_make_a_raft_cluster(ha) -> None:
    assert ha.centrals == ["central1", "central2", "central3"] and ha.clustered
    assert ha.central == "central1"  # creates the clusters; info["central"] for old readers
    assert ha.sb_remote == "tcp:192.0.2.11:6642,tcp:192.0.2.12:6642,tcp:192.0.2.13:6642"
    assert ha.nb_remote == "tcp:192.0.2.11:6641,tcp:192.0.2.12:6641,tcp:192.0.2.13:6641"
    ids = chassis_ovs_commands(ha, ha.nodes["worker1"])[-1]
    assert f"external_ids:ovn-remote={ha.sb_remote}" in ids
    text = render_plan(ha)
    assert "ovsdb-tool create-cluster ovnnb_db.db ovn-nb.ovsschema tcp:192.0.2.11:6643" in text
    assert (
        "ovsdb-tool join-cluster ovnsb_db.db OVN_Southbound tcp:192.0.2.13:6644 "
        "tcp:192.0.2.11:6644 tcp:192.0.2.12:6644" in text
    )
    assert text.count(f"ovn-northd --detach --ovnnb-db={ha.nb_remote}") == 3


def test_ssl_makes_every_network_remote_tls() -> None:
    text = (TOPOLOGIES / "ha-central.yaml").read_text().replace("provider: netns", "ssl: true")
    plan = make_plan(parse_topology(text, "ha-tls.yaml"))
    assert plan.ssl and plan.sb_remote.split(",")[0] == "ssl:192.0.2.11:6642"
    assert plan.raft_address("central2", plan.nb_raft_port) == "ssl:192.0.2.12:6643"
    rendered = render_plan(plan)
    assert "--remote=pssl:6642:192.0.2.13" in rendered
    assert "--private-key=central3-privkey.pem" in rendered
    assert "set-ssl worker2-privkey.pem worker2-cert.pem cacert.pem" in rendered
    assert "ptcp:" not in rendered
