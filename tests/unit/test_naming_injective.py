"""Property: the names a lab gives things are injective across all valid labs.

Machine-wide names (namespaces, containers, VM pin directories) of two different
(lab, member) pairs never coincide, whatever the valid names; within a lab, the fabric's
veth ends of two different (node, fabric) pairs never do either (before IFNAMSIZ
shortening; the planner refuses the rare collision a shortened name could make)."""

from __future__ import annotations

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
