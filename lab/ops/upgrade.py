"""`lab upgrade NODE... --to BUILD`: new OVS/OVN binaries under a node's running lab.

A docker node is recreated from the build's image inside its own network namespace (see
providers.docker.recreate_node), with the same directory bind-mounted: its OVSDB files
stay, converted to the new schemas as ovs-ctl / ovn-ctl do on a package upgrade; its
fabric links, VM veths and VM namespaces never move. Its daemons then restart the way
`lab start` restarts them (VM ports re-attached, controllers last).

Order across nodes is OVN's (lab.ovn.versions): a rolling upgrade takes the controllers
first, then the databases and ovn-northd; a span OVN does not support rolling across
gets the fail-safe procedure (controllers pinned to northd's version, central first).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab import providers
from lab.errors import UserError
from lab.ovn import versions as ovn_versions
from lab.plan.model import NodePlan, Plan
from lab.providers.base import UPGRADE, require
from lab.state.store import LabState, lab_lock, node_dir
from lab.topology.builds import HOST, Build
from lab.topology.builds import parse as parse_build

OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
DB_SCHEMAS = {
    "conf.db": OVS_SCHEMA,
    "ovnnb_db.db": "/usr/share/ovn/ovn-nb.ovsschema",
    "ovnsb_db.db": "/usr/share/ovn/ovn-sb.ovsschema",
}
PIN = "external_ids:ovn-match-northd-version"


@dataclass
class NodeUpgrade:
    node: str
    role: str
    before: str  # build
    after: str
    started: float = 0.0  # wall clock (time.time) for matching ping timestamps
    finished: float = 0.0
    converted: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return round(self.finished - self.started, 2)


@dataclass
class UpgradePlan:
    plan: Plan
    build: Build
    image: str
    order: list[NodePlan]
    procedure: str  # rolling | fail-safe
    notes: list[str]


def current_builds(state: LabState) -> dict[str, str]:
    """node -> the build it runs now (recorded at `lab up`, updated by `lab upgrade`)."""
    recorded = state.info.builds
    if recorded:
        return dict(recorded)
    return {n: v.build or HOST for n, v in state.info.nodes.items()}


def prepare(
    state: LabState, names: list[str], to: str, progress: object | None = None
) -> UpgradePlan:
    """Everything checked before anything changes; then the image found or built."""
    from lab.state.saved import saved_plan

    provider = providers.of(state)
    require(provider, UPGRADE, "lab upgrade")
    plan = saved_plan(state)
    missing = [n for n in names if n not in plan.nodes]
    if missing:
        raise UserError(
            f"'{missing[0]}' is not a node of lab {state.name} (nodes: {', '.join(plan.nodes)})"
        )
    build = parse_build(to, Path.cwd())
    if build.kind == HOST:
        raise UserError(
            "--to host is not a docker build; use debian:bookworm, debian:trixie or source:PATH"
        )
    running = current_builds(state)
    for name in names:
        node = plan.nodes[name]
        if node.role == "host":
            raise UserError(f"node {name} is a host: it runs no OVS/OVN to upgrade")
        if running.get(name) == str(build):
            raise UserError(f"node {name} already runs build {build}; pick another --to")
    image = provider.image_for(build, progress)
    images = state.info.images
    for name in names:
        if images.get(name) == image:  # e.g. `host` on docker is this machine's release
            raise UserError(f"node {name} already runs {image}; pick another --to")
    new_ovn = ovn_versions.release(provider.image_versions(image)[1])
    versions = provider.versions(state)
    old = [ovn_versions.release(versions[n][1]) for n in names]
    olds = [r for r in old if r is not None]
    procedure = "rolling"
    notes: list[str] = []
    chassis = [plan.nodes[n] for n in names if plan.nodes[n].is_chassis]
    centrals = [plan.nodes[n] for n in names if plan.nodes[n].role == "central"]
    if olds and new_ovn is not None:
        low = min(olds)
        outside = ovn_versions.upgrade_order(low, new_ovn) == "fail-safe"
        span = f"OVN {low} -> {new_ovn} is outside OVN's rolling-upgrade paths"
        if outside and centrals:
            procedure = "fail-safe"
            notes.append(
                f"{span} ({ovn_versions.RULE_SPAN}); using the fail-safe procedure: "
                f"{ovn_versions.RULE_FAIL_SAFE}"
            )
        elif outside:
            notes.append(
                f"{span} ({ovn_versions.RULE_SPAN}); upgrading controllers only, they will "
                "run beside an older ovn-northd until the central follows"
            )
    _refuse_leaving_old_controllers(state, plan, names, new_ovn, versions)
    order = centrals + chassis if procedure == "fail-safe" else chassis + centrals
    return UpgradePlan(plan, build, image, order, procedure, notes)


def _refuse_leaving_old_controllers(
    state: LabState,
    plan: Plan,
    names: list[str],
    new_ovn: ovn_versions.Release | None,
    versions: dict[str, tuple[str, str]],
) -> None:
    """Upgrading a central past controllers that OVN says cannot follow it is refused
    (the mix `lab up` refuses too), unless those controllers are upgraded with it."""
    if new_ovn is None:
        return
    after = {n: v[1] for n, v in versions.items()}
    for name in names:
        after[name] = str(new_ovn)
    controllers = {n: after[n] for n, node in plan.nodes.items() if node.is_chassis}
    centrals = {n: after[n] for n, node in plan.nodes.items() if node.role == "central"}
    message = ovn_versions.refusal(controllers, centrals)
    if message:
        raise UserError(
            f"upgrading {', '.join(names)} would leave {message[0].lower()}{message[1:]}"
        )


def run(
    state: LabState,
    up: UpgradePlan,
    say: Callable[[str], None] = lambda _l: None,
    on_node: Callable[[NodeUpgrade], None] | None = None,
    before_node: Callable[[str], None] | None = None,
) -> list[NodeUpgrade]:
    """Upgrade the nodes in the prepared order."""
    done: list[NodeUpgrade] = []
    if up.procedure == "fail-safe":
        _pin_controllers(state, up.plan, True)
    try:
        for node in up.order:
            say(f"upgrading {node.name} ({node.role}) to {up.build}")
            if before_node:
                before_node(node.name)
            done.append(upgrade_node(state, up.plan, node, up.build, up.image))
            if on_node:
                on_node(done[-1])
    finally:
        if up.procedure == "fail-safe":
            _pin_controllers(state, up.plan, False)
    return done


def upgrade_node(
    state: LabState, plan: Plan, node: NodePlan, build: Build, image: str
) -> NodeUpgrade:
    from lab.ops.faults import _kill_daemons

    running = current_builds(state)
    result = NodeUpgrade(node.name, node.role, running.get(node.name, HOST), str(build))
    with lab_lock(state.name):
        result.started = time.time()
        _kill_daemons(state, node)
        providers.of(state).replace_node_image(state, node.name, image)
        # from here the node runs the new image, whatever happens next
        builds_now = {**running, node.name: str(build)}
        images = {**(state.info.images), node.name: image}
        state.info.builds, state.info.images = builds_now, images
        state.save()
        result.converted = _convert_databases(state, node.name)
        _restart(state, plan, node)
        result.finished = time.time()
    return result


def _restart(state: LabState, plan: Plan, node: NodePlan) -> None:
    """`lab start`'s restart (faults.restart_node), but a chassis waits only for its own
    ovn-controller to catch up with the SB: during a fail-safe upgrade the other, pinned
    controllers process nothing, so a wait for every hypervisor would never end."""
    from lab.ops.faults import restart_node
    from lab.ovn import chassis as ovn_chassis
    from lab.providers.netns.build import central_dirs

    if not node.is_chassis:
        restart_node(state, plan, node)
        return
    directory = node_dir(state, node.name)
    centrals = central_dirs(plan, state)
    runner = providers.of(state).node_runner(state, node.name)
    ovn_chassis.start_chassis(plan, node, directory, centrals, runner)
    internal = [v for v in plan.vms_on(node.name) if v.attach == "internal"]
    ovn_chassis.attach_vms(node, internal, directory, restart=True)
    ovn_chassis.start_controller(node, directory, centrals, runner)
    _wait_caught_up(centrals, node.name, CATCH_UP_S)
    ovn_chassis.warm_tunnels(plan, state.dir)


CATCH_UP_S = 60


def _wait_caught_up(centrals: list[Path], chassis: str, timeout: float) -> None:
    """Until this chassis' ovn-controller has processed the NB as it is now: bump nb_cfg
    (ovn-nbctl --wait=sb sync: northd copies it to the SB), then wait for the chassis'
    own Chassis_Private.nb_cfg to reach it."""
    from lab.ovn.wait import nb_db, sb_db
    from lab.runner import run as run_cmd

    nb, sb = f"--db={nb_db(centrals)}", f"--db={sb_db(centrals)}"
    run_cmd(["ovn-nbctl", nb, f"--timeout={int(timeout)}", "--wait=sb", "sync"],
            timeout=timeout + 10)  # fmt: skip
    target = run_cmd(["ovn-sbctl", sb, "get", "SB_Global", ".", "nb_cfg"]).stdout.strip()
    run_cmd(
        ["ovn-sbctl", sb, f"--timeout={int(timeout)}", "wait-until", "Chassis_Private",
         chassis, f"nb_cfg>={target}"],
        timeout=timeout + 10,
    )  # fmt: skip


def _convert_databases(state: LabState, node: str) -> list[str]:
    """Each standalone database to the schema of the binaries now in the container (what
    ovs-ctl/ovn-ctl do at start after a package upgrade). Clustered ones convert online
    through their leader and are left to it."""
    from lab.ovn.daemons import run_tool

    directory = node_dir(state, node)
    runner = providers.of(state).node_runner(state, node)

    converted = []
    for name, schema in DB_SCHEMAS.items():
        path = directory / name
        if not path.exists():
            continue
        if run_tool(runner, ["ovsdb-tool", "db-is-clustered", str(path)], check=False):
            continue  # exit 0: clustered
        needs = run_tool(runner, ["ovsdb-tool", "needs-conversion", str(path), schema])
        if (needs or "").strip() == "yes":
            run_tool(runner, ["ovsdb-tool", "convert", str(path), schema])
            converted.append(name)
    return converted


def _pin_controllers(state: LabState, plan: Plan, on: bool) -> None:
    """Fail-safe upgrade, step 2: every ovn-controller keeps its flows while its version
    differs from ovn-northd's (external_ids:ovn-match-northd-version)."""
    from lab.runner import run as run_cmd

    for node in plan.chassis():
        sock = f"unix:{node_dir(state, node.name) / 'db.sock'}"
        if on:
            argv = ["ovs-vsctl", f"--db={sock}", "set", "open", ".", f"{PIN}=true"]
        else:
            argv = ["ovs-vsctl", f"--db={sock}", "remove", "open", ".", "external_ids",
                    "ovn-match-northd-version"]  # fmt: skip
        run_cmd(argv, check=False)
