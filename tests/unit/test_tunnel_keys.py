"""Tunnel keys are a function of the file: datapaths in file order, VM ports before router
ports on each switch, pinned keys kept and skipped by the others."""

from __future__ import annotations

from pathlib import Path

from lab.plan.commands import logical_network_commands
from lab.plan.tunnel_keys import tunnel_keys
from lab.topology import load_topology, parse_topology

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "topologies" / "geneve-router.yaml"


def test_the_seed_lab_gets_the_articles_keys() -> None:
    keys = tunnel_keys(load_topology(SEED))
    assert keys.switches == {"network1": 1, "network2": 2}
    assert keys.routers == {"router1": 3}
    # Geneve option data = ingress port key << 16 | egress port key: net2-router1 -> vm2
    assert (keys.switch_ports["net2-router1"], keys.switch_ports["vm2"]) == (2, 1)
    assert f"{keys.switch_ports['net2-router1']:04x}{keys.switch_ports['vm2']:04x}" == "00020001"


def test_every_shipped_topology_gives_the_same_commands_twice() -> None:
    for path in sorted((REPO / "topologies").glob("*.yaml")):
        assert logical_network_commands(load_topology(path)) == logical_network_commands(
            load_topology(path)
        ), path.name


def test_pinned_keys_are_kept_and_skipped() -> None:
    text = SEED.read_text().replace("network2: {}", "network2: {tunnel_key: 8}")
    text = text.replace("gateway: 20.0.0.1}", "gateway: 20.0.0.1, tunnel_key: 2}")
    keys = tunnel_keys(parse_topology(text, "t.yaml"))
    assert keys.switches == {"network1": 1, "network2": 8}
    assert keys.routers == {"router1": 2}
    assert (keys.switch_ports["vm2"], keys.switch_ports["net2-router1"]) == (2, 1)


def test_a_distributed_nat_comes_after_the_port_it_names() -> None:
    topo = load_topology(REPO / "topologies" / "distributed-fip.yaml")
    cmds = logical_network_commands(topo)
    for index, cmd in enumerate(cmds):
        if cmd[0] == "lr-nat-add" and len(cmd) > 5:
            assert ["lsp-add", topo.vms[cmd[5]].switch, cmd[5]] in cmds[:index] or any(
                c[:1] == ["lsp-add"] and c[-1] == cmd[5] for c in cmds[:index]
            )
