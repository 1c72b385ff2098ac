"""Property: the names a lab gives things are injective across all valid labs.

Machine-wide names (namespaces, containers, VM pin directories) of two different
(lab, member) pairs never coincide, whatever the valid names; within a lab, the fabric's
veth ends of two different (node, fabric) pairs never do either (before IFNAMSIZ
shortening; the planner refuses the rare collision a shortened name could make)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab import naming

LAB = st.from_regex(naming.LAB_NAME, fullmatch=True)
MEMBER = st.from_regex(naming.NODE_NAME, fullmatch=True)
FABRIC = st.from_regex(naming.FABRIC_NAME, fullmatch=True)
# names that prefix each other are the interesting case: build them from shared parts
PART = st.sampled_from(["a", "b", "x", "pa", "b-x", "a-b", "fabric", "a1"])


def machine_wide(lab: str, member: str | None) -> str:
    """What lab `lab` calls member `member` (None: its fabric) in /run/netns and docker."""
    return naming.fabric_netns(lab) if member is None else naming.netns_name(lab, member)


def _valid(lab: str, member: str | None) -> bool:
    return naming.is_lab_name(lab) and (
        member is None
        or (naming.NODE_NAME.fullmatch(member) is not None
            and member not in naming.RESERVED_NODE_NAMES)
    )  # fmt: skip


@settings(max_examples=500)
@given(LAB, st.none() | MEMBER, LAB, st.none() | MEMBER)
def test_namespace_names_never_collide_across_labs(
    lab1: str, m1: str | None, lab2: str, m2: str | None
) -> None:
    if not (_valid(lab1, m1) and _valid(lab2, m2)):
        return
    if (lab1, m1) != (lab2, m2):
        assert machine_wide(lab1, m1) != machine_wide(lab2, m2)


@settings(max_examples=500)
@given(
    st.lists(PART, min_size=1, max_size=3).map("-".join),
    st.none() | st.lists(PART, min_size=1, max_size=3).map("-".join),
    st.lists(PART, min_size=1, max_size=3).map("-".join),
    st.none() | st.lists(PART, min_size=1, max_size=3).map("-".join),
)
def test_names_that_prefix_each_other_do_not_collide(
    lab1: str, m1: str | None, lab2: str, m2: str | None
) -> None:
    if not (_valid(lab1, m1) and _valid(lab2, m2)):
        return
    if (lab1, m1) != (lab2, m2):
        assert machine_wide(lab1, m1) != machine_wide(lab2, m2)


def test_the_issue_example() -> None:
    assert naming.netns_name("pa-b", "x") != naming.netns_name("pa", "b-x")
    assert naming.netns_name("a", "x-fabric") != naming.fabric_netns("a-x")


@settings(max_examples=500)
@given(MEMBER, FABRIC, MEMBER, FABRIC)
def test_fabric_ports_never_collide_within_a_lab(n1: str, f1: str, n2: str, f2: str) -> None:
    if (n1, f1) != (n2, f2):
        assert f"{n1}-{f1}" != f"{n2}-{f2}"  # fabric names hold no '-': split at the last


@given(LAB, MEMBER)
def test_a_lab_owns_exactly_the_names_with_its_prefix(lab: str, member: str) -> None:
    name = naming.netns_name(lab, member)
    assert name.startswith(naming.lab_prefix(lab))
    assert naming.SEP not in lab and naming.SEP not in member


# --- interface names, shortened ones included -------------------------------------------------
#
# Linux interface names (and a chassis' OVS port names) only need to be unique per namespace,
# and namespaces are injective across labs (above). So the property is: in every lab the
# loader and planner accept, no namespace gets one interface name twice, and two labs never
# share a (namespace, interface). `spec_names` is this test's own account of what `lab up`
# makes where (lab/fabric/wiring.py, lab/ovn/chassis.py, lab/plan/planner.py), written from the
# plan's fields; lab.plan.ifnames (what the planner refuses with) must see at least that.

NODE_PARTS = st.sampled_from(["br", "ovs", "hv1", "hv2", "x", "abcdefghijklmn1", "abcdefghijklmn2"])
FABRIC_PARTS = st.sampled_from(["overlay", "netdev", "system", "ext", "x", "p"])
VM_PARTS = st.sampled_from(
    ["vm1", "x", "x-p", "lo", "ovs-system", "ovs-netdev", "br-int", "overlay", "ext", "br-ext",
     "abcdefghijklmn1", "abcdefghijklmn2", "abcdefghi-p", "p"]
)  # fmt: skip


def spec_names(plan: object) -> dict[str, list[str]]:
    from lab.plan.model import Plan

    assert isinstance(plan, Plan)
    fabric = ["lo", *(f.bridge for f in plan.fabrics.values())]
    if any(f.vlans for f in plan.fabrics.values()):  # the ToR's ovs-vswitchd (netdev)
        fabric.append("ovs-netdev")
    found = {plan.fabric_netns: fabric}
    for node in plan.nodes.values():
        fabric += [lk.fabric_if for lk in node.links]
        names = ["lo", *(lk.node_if for lk in node.links)]
        if node.is_chassis:
            names += ["br-int", "ovs-netdev", "ovs-system"]
            names += [lk.ovs_bridge for lk in node.links if lk.ovs_bridge]
            names += [vm.chassis_if for vm in plan.vms_on(node.name)]
        found[node.netns] = names
    for vm in plan.vms.values():
        found[vm.netns] = ["lo", vm.vm_if]
    return found


def topology(
    lab: str, nodes: list[str], fabrics: list[str], vms: list[tuple[str, int, str]]
) -> str:
    import yaml

    overlay, *others = fabrics
    fab: dict = {overlay: {"subnet": "192.0.2.0/24"}}
    fab.update({f: {"vlans": True} if i == 0 else {} for i, f in enumerate(others)})
    spec: dict = {
        "name": lab,
        "fabric": fab,
        "nodes": {"central": {"role": "central"}},
        "ovn": {"switches": {"net1": {}}},
    }
    for name in nodes:
        spec["nodes"][name] = {"role": "chassis", "links": fabrics}
    spec["vms"] = {
        vm: {"chassis": nodes[i % len(nodes)], "switch": "net1", "attach": attach,
             "mac": f"40:44:00:00:{i // 256:02x}:{i % 256:02x}", "ip": f"10.0.0.{10 + i}/24"}
        for i, (vm, _, attach) in enumerate(vms)
    }  # fmt: skip
    return yaml.safe_dump(spec)


def plan_or_refused(text: str) -> object | None:
    from lab.errors import UserError
    from lab.plan.planner import make_plan
    from lab.topology.loader import parse_topology

    try:
        return make_plan(parse_topology(text, "t.yaml"))
    except UserError:  # TopologyError too: refused in a sentence, nothing made
        return None


LAB_TOPOLOGY = st.builds(
    topology,
    st.sampled_from(["pa", "pa-b", "h", "x"]),
    st.lists(NODE_PARTS, min_size=1, max_size=3, unique=True),
    st.lists(FABRIC_PARTS, min_size=1, max_size=3, unique=True),
    st.lists(st.tuples(VM_PARTS, st.integers(0, 2), st.sampled_from(["internal", "veth"])),
             max_size=5, unique_by=lambda v: v[0]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(LAB_TOPOLOGY)
def test_no_namespace_gets_an_interface_name_twice(text: str) -> None:
    from lab.plan import ifnames

    plan = plan_or_refused(text)
    if plan is None:
        return
    ours = ifnames.namespaces(plan)  # type: ignore[arg-type]
    for netns, names in spec_names(plan).items():
        assert len(names) == len(set(names)), (netns, sorted(names))
        assert set(names) <= {n for n, _ in ours[netns]}, netns  # the planner's check sees all
        assert all(len(n) <= naming.IFNAMSIZ for n in names), names


@settings(max_examples=100, deadline=None)
@given(LAB_TOPOLOGY, LAB_TOPOLOGY)
def test_two_labs_never_share_an_interface(text1: str, text2: str) -> None:
    plan1, plan2 = plan_or_refused(text1), plan_or_refused(text2)
    if plan1 is None or plan2 is None or plan1.lab == plan2.lab:  # type: ignore[attr-defined]
        return
    pairs1 = {(ns, n) for ns, names in spec_names(plan1).items() for n in names}
    pairs2 = {(ns, n) for ns, names in spec_names(plan2).items() for n in names}
    assert not pairs1 & pairs2


def _colliding(prefix: str, short: Callable[[str], str]) -> tuple[str, str]:
    """Two 15-character names `prefix + letters` whose shortened names `short(name)`
    collide (a 16-bit hash: a few hundred tries)."""
    seen: dict[str, str] = {}
    for i in range(100_000):
        name = (prefix + f"{i:06d}".translate(str.maketrans("0123456789", "abcdefghij")))[-15:]
        found = seen.setdefault(short(name), name)
        if found != name:
            return found, name
    raise AssertionError("no collision found")


def test_shortened_names_that_collide_are_refused() -> None:
    """Hash collisions of shortened names exist (16 bits); the loader or planner refuses
    every one in a namespace, and the same names in different namespaces are fine."""
    a, b = _colliding("abcdefghi", lambda n: naming.vm_chassis_port(n, "veth"))  # <9><hash4>-p
    assert naming.vm_chassis_port(a, "veth") == naming.vm_chassis_port(b, "veth")
    one_chassis = topology("h", ["hv1"], ["overlay"], [(a, 0, "veth"), (b, 0, "veth")])
    assert plan_or_refused(one_chassis) is None
    two_chassis = topology("h", ["hv1", "hv2"], ["overlay"], [(a, 0, "veth"), (b, 1, "veth")])
    assert plan_or_refused(two_chassis) is not None
    n1, n2 = _colliding("abcdefghi", lambda n: naming.fabric_port(n, "overlay"))  # <11><hash4>
    assert naming.fabric_port(n1, "overlay") == naming.fabric_port(n2, "overlay")
    assert plan_or_refused(topology("h", [n1, n2], ["overlay"], [])) is None


def test_add_vm_refuses_a_port_its_chassis_has() -> None:
    from lab.errors import UserError
    from lab.ops.vms import _refuse_interface_clash
    from lab.plan.model import VMPlan
    from lab.state.info import LabInfo

    a, b = _colliding("abcdefghi", lambda n: naming.vm_chassis_port(n, "veth"))
    info = LabInfo.from_json({
        "nodes": {"hv1": {"role": "chassis", "links": {"overlay": {"node_if": "overlay"}}}},
        "vms": {a: {"chassis": "hv1", "netns": naming.netns_name("h", a),
                    "chassis_if": naming.vm_chassis_port(a, "veth")}},
    })  # fmt: skip

    def vm(name: str, attach: str) -> VMPlan:
        return VMPlan(name=name, chassis="hv1", netns=naming.netns_name("h", name), port=name,
                      switch="net1", attach=attach, chassis_if=naming.vm_chassis_port(name, attach),
                      vm_if=name, mac="40:44:00:00:00:09", ip=None, gateway=None)  # fmt: skip

    for name, attach in ((b, "veth"), ("overlay", "internal"), ("br-overlay", "internal"),
                         ("ovs-system", "internal"), ("lo", "veth")):  # fmt: skip
        with pytest.raises(UserError, match="choose another VM name"):
            _refuse_interface_clash(info, vm(name, attach))
    _refuse_interface_clash(info, vm("vm2", "veth"))  # a free name passes
