"""Check steps that change the lab between checks (link, impair, partition, add-vm) and the
`assert` check. Steps pass when applied; whatever they applied is undone when `lab check`
ends, also when a check failed (see undo_steps)."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from lab.errors import UserError
from lab.ops import wirefaults as wf
from lab.runner import run
from lab.state.store import load_state
from lab.topology.impairments import impairment
from lab.topology.steps import STEP_KEYS, assert_command

if TYPE_CHECKING:
    from lab.verify.context import LabContext
    from lab.verify.result import CheckResult

STEP_KINDS = frozenset({"link", "impair", "partition", "add-vm"})
POLL_S = 0.5


def _result(kind: str, spec: dict[str, Any], passed: bool, summary: str, **kw: Any) -> CheckResult:
    from lab.verify.result import CheckResult

    return CheckResult(kind, spec, passed, summary, **kw)


def _require(kind: str, spec: dict[str, Any]) -> None:
    required, optional = STEP_KEYS[kind]
    missing = [k for k in required if k not in spec]
    unknown = [k for k in spec if k not in required and k not in optional]
    if missing or unknown:
        what = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise UserError(f"step '{kind}': {what}; allowed keys: {', '.join(required + optional)}")


def _applied(ctx: LabContext) -> list[tuple[str, tuple[str, ...]]]:
    if not hasattr(ctx, "applied_steps"):
        ctx.applied_steps = []  # type: ignore[attr-defined]
    return ctx.applied_steps  # type: ignore[attr-defined,no-any-return]


def _refresh(ctx: LabContext) -> None:
    """Steps change the lab's state on disk under its lock; the context's copy follows, so a
    later check that saves it (failover's stop/start) keeps what the steps recorded."""
    fresh = load_state(ctx.state.name)
    if fresh is not None:
        ctx.state.info.faults = fresh.info.faults
        ctx.state.info.vms = fresh.info.vms
        ctx.state.resources = fresh.resources


def step_link(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    _require("link", spec)
    node, fabric, state = str(spec["node"]), str(spec["fabric"]), str(spec["state"])
    if state not in ("down", "up"):
        raise UserError(f"step 'link': state is down or up, not '{state}'")
    wf.set_link(ctx.state.name, node, fabric, up=state == "up")
    _refresh(ctx)
    if state == "down":
        _applied(ctx).append(("link", (node, fabric)))
    return _result("link", spec, True, f"link {node} {fabric} is {state}")


def step_impair(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    _require("impair", spec)
    node, fabric = str(spec["node"]), str(spec["fabric"])
    imp = impairment(
        spec.get("delay_ms"), spec.get("jitter_ms"), spec.get("loss_pct"), spec.get("rate_mbit")
    )
    if imp.empty:  # impair: {node, fabric} alone clears
        wf.impair(ctx.state.name, node, fabric, None)
        _refresh(ctx)
        return _result("impair", spec, True, f"link {node} {fabric} is clean again")
    wf.impair(ctx.state.name, node, fabric, imp)
    _refresh(ctx)
    _applied(ctx).append(("impair", (node, fabric)))
    return _result("impair", spec, True, f"link {node} {fabric}: {imp.describe()}")


def step_partition(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    _require("partition", spec)
    node = str(spec["node"])
    others = spec["from"] if isinstance(spec["from"], list) else [spec["from"]]
    others = [str(o) for o in others]
    heal = bool(spec.get("heal", False))
    changed = wf.partition(ctx.state.name, node, others, heal)
    _refresh(ctx)
    if not heal:
        _applied(ctx).extend(("partition", (node, other)) for other, _ in changed)
    where = "; ".join(f"{node} <-> {o} on {', '.join(f)}" for o, f in changed)
    return _result("partition", spec, True, ("healed " if heal else "partitioned ") + where)


def step_add_vm(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """A VM added to the running lab (as `lab add-vm`); with wait: false it returns before
    its port is up, so asserts can watch it come up (or not)."""
    from lab.ops.vms import add_vm

    _require("add-vm", spec)
    name = str(spec["name"])
    wait = bool(spec.get("wait", True))
    _applied(ctx).append(("add-vm", (name,)))
    took = add_vm(
        ctx.state,
        name,
        str(spec["chassis"]),
        str(spec["switch"]),
        str(spec["ip"]),
        gateway=str(spec["gateway"]) if spec.get("gateway") else None,
        mac=str(spec["mac"]) if spec.get("mac") else None,
        wait=wait,
    )
    _refresh(ctx)
    summary = f"VM {name} on {spec['chassis']}" + (
        f", port up in {took:.2f} s" if wait else " (not waiting for its port)"
    )
    return _result("add-vm", spec, True, summary, evidence={"seconds": round(took, 3)})


def undo_steps(ctx: LabContext) -> list[str]:
    """Undo what the steps of this run applied, newest first; problems, never raises."""
    from lab.ops.vms import del_vm

    applied = _applied(ctx)
    problems = wf.undo(ctx.state.name, [a for a in applied if a[0] != "add-vm"])
    for kind, args in reversed(applied):
        if kind != "add-vm":
            continue
        _refresh(ctx)
        if args[0] in ctx.state.info.vms:
            try:
                del_vm(ctx.state, args[0])
            except Exception as exc:
                problems.append(f"removing VM {args[0]}: {exc}")
    applied.clear()
    _refresh(ctx)
    return problems


# --- assert -------------------------------------------------------------------------------


def json_path(data: Any, path: str) -> Any:
    """data["a"][0]["b"] for "a.0.b"; KeyError when it is not there."""
    for part in path.split(".") if path else []:
        if isinstance(data, list):
            data = data[int(part)]
        elif isinstance(data, dict):
            data = data[part]
        else:
            raise KeyError(part)
    return data


def matches(spec: dict[str, Any], returncode: int, stdout: str) -> tuple[bool, str]:
    """Whether one run of the command matched, and why not."""
    want_rc = int(spec.get("exit", 0))
    if returncode != want_rc:
        return False, f"exit status {returncode}, not {want_rc}"
    if "match" in spec:
        if re.search(str(spec["match"]), stdout.strip(), re.MULTILINE):
            return True, ""
        return False, f"output does not match /{spec['match']}/"
    try:
        data = json.loads(stdout)
    except ValueError:
        return False, "output is not JSON"
    for path, want in spec["json"].items():
        try:
            got = json_path(data, str(path))
        except (KeyError, IndexError, ValueError):
            return False, f"no {path} in the JSON"
        if got != want and str(got) != str(want):
            return False, f"{path} is {got!r}, not {want!r}"
    return True, ""


def check_assert(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    where, argv = assert_command(spec)
    within = float(spec.get("within_s", 5))
    hold = float(spec.get("for_s", 0))
    if where == "nbctl":
        argv = ["ovn-nbctl", f"--db={ctx.nb}", *argv]
    elif where == "sbctl":
        argv = ["ovn-sbctl", f"--db={ctx.sb}", *argv]
    on = str(spec["on"]) if where == "on" else where
    shown = " ".join(
        ["ovn-" + where if where != "on" else "", *spec["run" if where == "on" else where]]
    ).strip()[:70]

    def once() -> tuple[bool, str, str]:
        if where == "on":  # inside the node, as `lab exec` runs it (its own pidfiles)
            proc = ctx.provider.run_inside(ctx.state, on, argv, timeout=max(10.0, within))
        else:
            proc = run(argv, check=False, timeout=max(10.0, within))
        ok, why = matches(spec, proc.returncode, proc.stdout)
        return ok, why, proc.stdout + proc.stderr

    start = time.monotonic()
    tries = 0
    ok, why, output = once()
    tries += 1
    while not ok and time.monotonic() - start < within:
        time.sleep(POLL_S)
        ok, why, output = once()
        tries += 1
    matched_after = round(time.monotonic() - start, 2)
    held = 0.0
    if ok and hold:  # it must go on matching for for_s
        held_from = time.monotonic()
        while ok and time.monotonic() - held_from < hold:
            time.sleep(POLL_S)
            ok, why, output = once()
            tries += 1
        held = round(time.monotonic() - held_from, 2)
        if not ok:
            why = f"matched, then after {held} s (< for_s {hold:g}): {why}"
    ctx.save_raw(cid, "output.txt", " ".join(argv) + "\n\n" + output)
    expect = f"/{spec['match']}/" if "match" in spec else json.dumps(spec["json"])
    if ok:
        summary = f"`{shown}` matched {expect} after {matched_after} s"
        if hold:
            summary += f" and held for {hold:g} s"
    else:
        summary = f"`{shown}` on {on}: no match for {expect} in {tries} tries"
    evidence = {"argv": argv, "on": on, "tries": tries, "output": output[-2000:]}
    return _result("assert", spec, ok, summary, evidence=evidence, diagnosis=None if ok else why)
