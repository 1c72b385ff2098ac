"""The `lab` command line. The only place that prints tracebacks or picks exit codes."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lab.errors import LabError, UserError
from lab.output import add_file_option, add_output_option
from lab.progress import Progress
from lab.state import (
    CorruptState,
    LabState,
    list_labs,
    load_state,
    node_dir,
    open_lab,
    resolve_lab,
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _strip_dashes(argv: Sequence[str]) -> list[str]:
    argv = list(argv)
    return argv[1:] if argv[:1] == ["--"] else argv


def _state(name: str | None) -> LabState:
    return open_lab(name)


# --- commands --------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from lab import lifecycle
    from lab.plan.planner import make_plan
    from lab.plan.render import render_plan
    from lab.topology import parse_topology
    from lab.topology.loader import read_topology_text

    if getattr(args, "bundle", None):
        from lab.bundle_cli import up_from_bundle

        return up_from_bundle(args)
    if not args.topology:
        raise UserError("lab up needs a topology file (or --bundle FILE.tar.gz)")
    from lab.examples import topology_path

    path = topology_path(args.topology)  # a file, or the name of a shipped example
    text = read_topology_text(path)  # once: `lab up /dev/stdin` works, this copy is saved
    topo = parse_topology(text, str(path), name=args.name)
    if args.provider:
        from lab.builds import refuse_provider

        refuse_provider(topo, args.provider)
        topo.provider = args.provider
    plan = make_plan(topo)
    from lab.plan.security import acl_warnings

    for warning in acl_warnings(topo):
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    if args.dry_run:
        if getattr(args, "output", "text") == "json":  # `lab plan --output json`
            from dataclasses import asdict

            from lab.output import emit

            return emit("plan", lab=plan.lab, plan=asdict(plan), commands=render_plan(plan))
        sys.stdout.write(render_plan(plan))
        return 0
    from lab.ovn.acls import check_actions
    from lab.ovn.daemons import NB_SCHEMA
    from lab.plan.security import acl_actions

    check_actions(acl_actions(topo), NB_SCHEMA)  # e.g. `pass` needs OVN 23.06
    start = time.monotonic()
    progress = Progress()
    placed = None
    if topo.provider == "ssh":  # the hosts' own addresses go into the plan
        from lab import ssh_lab

        if not args.inventory:
            raise UserError(
                "provider ssh needs --inventory FILE: the Ansible inventory of the hosts "
                "(the one `lab provision` used)"
            )
        hosts = {name: node.host for name, node in topo.nodes.items()}
        placed = ssh_lab.place(
            plan,
            hosts,
            Path(args.inventory),
            Path(args.known_hosts) if args.known_hosts else None,
            args.accept_new_host_keys,
            progress,
        )
        ssh_lab.with_host_addresses(topo, placed.underlay, placed.subnet)
        plan = make_plan(topo)
    state = lifecycle.up(
        plan,
        str(path.resolve()),
        text,
        provider=topo.provider,
        progress=progress,
        keep_on_error=args.keep_on_error,
        placed=placed,
    )
    took = time.monotonic() - start
    served = sum(vm.waits_for_addresses for vm in plan.vms.values())
    addresses = f", {served} VMs addressed by OVN (DHCP, RA)" if served else ""
    err.print(
        f"lab [bold]{plan.lab}[/bold] is up: {len(plan.nodes)} nodes, {len(plan.vms)} VMs, "
        f"every port up{addresses}, in {took:.2f} s. Try `lab status`, `lab exec VM -- ping ADDR`, "
        f"`lab down {plan.lab}`."
    )
    if state.provider == "docker":  # mixed OVN releases: what OVN's upgrade guide says
        from lab.upgrade import version_warnings

        for warning in version_warnings(state):
            err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from lab.teardown import orphan_container_labs

    if args.all:
        names = sorted({*list_labs(), *orphan_container_labs()})
    else:
        if args.name is not None:
            from lab.naming import check_lab_name

            names = [check_lab_name(args.name)]
        else:
            names = [resolve_lab(None)] if list_labs() else []
    if not names:
        err.print("no lab is up; nothing to do")
        return 0
    if args.force:
        if args.name is None:
            raise UserError("--force needs the lab's name: lab down NAME --force")
        from lab.teardown import force_down

        removed = force_down(names[0])
        err.print(f"lab {names[0]} removed by name and label: {', '.join(removed) or 'nothing'}")
        return 0
    bad: list[str] = []
    for name in names:
        start = time.monotonic()
        try:
            _down_one(name, args.forget_unreachable, start)
        except CorruptState as exc:  # one bad lab must not keep the others up
            if not args.all:
                raise
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            bad.append(name)
    if bad:
        err.print(f"[red]not removed:[/red] {', '.join(bad)} (unreadable state; see above)")
        return 2
    return 0


def _down_one(name: str, forget_unreachable: bool, start: float) -> None:
    from lab.teardown import down, down_orphan

    if load_state(name) is None:  # safe to repeat: nothing to do is not an error
        orphans = down_orphan(name)
        if orphans:
            err.print(
                f"lab {name} had no state left; removed its containers by label: "
                + ", ".join(orphans)
            )
        else:
            err.print(f"no lab named {name} is up; nothing to remove")
        return
    pids = down(name, forget_unreachable=forget_unreachable)
    err.print(
        f"lab {name} is down: {len(pids)} processes stopped, namespaces and state removed "
        f"in {time.monotonic() - start:.2f} s"
    )


def cmd_status(args: argparse.Namespace) -> int:
    from lab.output import emit, wants_json
    from lab.status import lab_status

    if not list_labs() and args.name is None:  # nothing up is an answer, not an error
        if wants_json(args):
            return emit("status", labs=[])
        err.print("no lab is up")
        return 0
    names = (
        [resolve_lab(args.name)] if args.name is not None or len(list_labs()) <= 1 else list_labs()
    )
    statuses = []
    bad: list[CorruptState] = []
    for n in names:
        try:
            statuses.append(lab_status(_state(n)))
        except CorruptState as exc:  # the other labs are still shown
            if len(names) == 1:
                raise
            bad.append(exc)
    if wants_json(args):
        emit("status", labs=[s.to_dict() for s in statuses])
    else:
        for st in statuses:
            _print_status(st)
    for exc in bad:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
    if bad:
        return 2
    return 0 if all(s.healthy for s in statuses) else 1


def _print_status(st) -> None:
    nodes = Table(title=f"lab {st.name} ({st.phase}, {st.provider})", title_justify="left")
    for col in ("node", "role", "namespace", "daemons", "chassis in SB", "OVS / OVN"):
        nodes.add_column(col)
    for n in st.nodes:
        daemons = (
            " ".join(
                f"[green]{d}[/green]" if ok else f"[red]{d} DEAD[/red]"
                for d, ok in n.daemons.items()
            )
            or "-"
        )
        if n.chassis_registered is None:  # not a chassis, or the SB could not be read
            reg = "?" if n.role in ("chassis", "gateway") else "-"
        else:
            reg = "yes" if n.chassis_registered else "[red]NO[/red]"
        if n.stopped:
            daemons = "[yellow]stopped by `lab stop`[/yellow]"
        versions = f"{n.ovs} / {n.ovn} ({n.build})" if n.ovs else "-"
        nodes.add_row(
            n.name, n.role, "ok" if n.netns else "[red]missing[/red]", daemons, reg, versions
        )
    out.print(nodes)
    if st.ports:
        ports = Table(title="port bindings", title_justify="left")
        for col in ("port", "vm", "chassis", "up", "addresses"):
            ports.add_column(col)
        for p in st.ports:
            where = p.bound_chassis or "[red]unbound[/red]"
            if p.bound_chassis and p.bound_chassis != p.expected_chassis:
                where = f"[red]{p.bound_chassis} (expected {p.expected_chassis})[/red]"
            up = "yes" if p.up else "[red]no[/red]"
            ports.add_row(p.port, p.vm, where, up, " ".join(p.addresses))
        out.print(ports)
    if st.services:
        services = Table(title="VM services (answer with the VM's name)", title_justify="left")
        for col in ("vm", "service", "pid", "running"):
            services.add_column(col)
        for s in st.services:
            running = "yes" if s.alive else "[red]no[/red]"
            services.add_row(s.vm, f"{s.proto}/{s.port}", str(s.pid or "-"), running)
        out.print(services)
    for fault in st.faults:
        out.print(f"[yellow]fault:[/yellow] {escape(fault)}")
    for problem in st.problems:
        out.print(f"[red]problem:[/red] {problem}")


def _relay(proc: subprocess.CompletedProcess[str]) -> int:
    """A command run on an SSH host, shown as if it ran here: its output, its exit status."""
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc.returncode


def cmd_exec(args: argparse.Namespace) -> int:
    state = _state(args.lab)
    command = _strip_dashes(args.command)
    if not command:
        raise UserError("nothing to run: lab exec TARGET -- COMMAND [ARGS...]")
    if state.provider == "ssh":  # on the node's host, through the lab's SSH connection
        from lab import ssh_lab

        host, netns = ssh_lab.where(state, args.target)
        return _relay(host.run(command, netns=netns, check=False, timeout=3600))
    from lab.targets import netns_env

    netns, env = netns_env(state, args.target)
    if args.target in state.info.get("nodes", {}):
        from lab.providers.docker import container_of, exec_argv

        container = container_of(node_dir(state, args.target))
        if container is not None:  # docker provider: inside the node's container
            argv = exec_argv(container["name"], command, env, tty=sys.stdin.isatty())
            os.execvp("docker", argv)
    os.execvpe("ip", ["ip", "netns", "exec", netns, *command], {**os.environ, **env})
    return 0  # not reached


def _ctl(args: argparse.Namespace, tool: str, db: str) -> int:
    from lab.targets import db_remote

    state = _state(args.lab)
    if state.provider == "ssh":  # the central host's own client, over the lab's connection
        from lab import ssh_lab

        host, _ = ssh_lab.where(state, state.info["central"])
        return _relay(host.run([tool, *_strip_dashes(args.args)], check=False, timeout=600))
    # every central's socket: with a raft cluster the client settles on the leader
    argv = [tool, f"--db={db_remote(state, db)}", *_strip_dashes(args.args)]
    from lab.clients import at_central  # the central's own release of the tool

    argv = at_central(state, argv)
    os.execvp(argv[0], argv)
    return 0  # not reached


def cmd_nbctl(args: argparse.Namespace) -> int:
    return _ctl(args, "ovn-nbctl", "nb")


def cmd_sbctl(args: argparse.Namespace) -> int:
    return _ctl(args, "ovn-sbctl", "sb")


def cmd_stop(args: argparse.Namespace) -> int:
    from lab.faults import stop_node
    from lab.state import local_only

    state = local_only(_state(args.lab), "stop")
    pids = stop_node(state, args.node)
    err.print(
        f"node {args.node} stopped: {len(pids)} processes killed, its fabric links cut; "
        f"`lab start {args.node}` restores it"
    )
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from lab.faults import start_node
    from lab.state import local_only

    state = local_only(_state(args.lab), "start")
    start = time.monotonic()
    start_node(state, args.node)
    err.print(f"node {args.node} is back in {time.monotonic() - start:.2f} s")
    return 0


def cmd_image_build(args: argparse.Namespace) -> int:
    from lab import image, preflight

    preflight.check_root()
    if args.build:
        from lab.builds import build_image_command

        return build_image_command(args.build, force=args.force)
    recipe = image.default_recipe(args.ovn_from, args.suite)
    if args.mirror:
        recipe = image.Recipe(suite=recipe.suite, mirror=args.mirror.rstrip("/"))
    start = time.monotonic()
    progress = Progress()
    with progress.step(f"node image from Debian {recipe.suite} (debootstrap + docker import)"):
        tag, built = image.build(recipe, say=progress.note, force=args.force)
    took = time.monotonic() - start
    if built:
        err.print(f"built {tag} in {took:.0f} s")
    else:
        err.print(f"{tag} is up to date (its inputs have not changed; --force rebuilds it)")
    print(tag)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from lab import report
    from lab.verify.checks import run_checks
    from lab.verify.context import LabContext

    state = _state(args.name)
    ctx = LabContext(state)
    if not ctx.topology.checks:
        raise UserError(
            f"lab {state.name}'s topology has no `checks:`; add some (see docs/checks.md)"
        )
    from lab.output import emit, wants_json

    shown = err if wants_json(args) else out  # with --output json stdout is the document
    results = run_checks(ctx, lambda result: report.print_result(shown, result))
    report.print_summary(shown, state.name, results, ctx.raw_dir)
    # the last run, for `lab bundle`
    report.write_json(state.dir / "last-check.json", state.name, results, ctx.raw_dir)
    if args.json_file:
        report.write_json(Path(args.json_file), state.name, results, ctx.raw_dir)
    if wants_json(args):
        emit("check", **report.json_data(state.name, results, ctx.raw_dir))
    if args.junit:
        report.write_junit(Path(args.junit), state.name, results)
    return 0 if all(r.passed for r in results) else 1


def cmd_schema(args: argparse.Namespace) -> int:
    from lab.topology.schema import schema_text

    if args.output:
        Path(args.output).write_text(schema_text())
        err.print(f"wrote the topology schema to {escape(args.output)}")
    else:
        sys.stdout.write(schema_text())
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    from lab.completion import script

    sys.stdout.write(script(args.shell, build_parser()))
    return 0


# --- parser ----------------------------------------------------------------------------------


class _VersionAction(argparse.Action):
    """--version: ovn-lab, and the OVS / OVN found on this machine (asked only when wanted)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print ovn-lab, OVS and OVN versions")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from lab.version import version_text

        sys.stdout.write(version_text())
        parser.exit()


def _global_conventions(parser: argparse.ArgumentParser) -> None:
    """Options every command takes, given before it: `lab -q up t.yaml`, `lab -v check`."""
    parser.add_argument("--version", action=_VersionAction)
    noise = parser.add_mutually_exclusive_group()
    # dests of their own: `lab test -v` and `lab provision -v` have a --verbose of their own
    noise.add_argument(
        "-q",
        "--quiet",
        dest="global_quiet",
        action="store_true",
        help="only results and errors: no progress or notes",
    )
    noise.add_argument(
        "-v",
        "--verbose",
        dest="global_verbose",
        action="store_true",
        help="log what lab does (--debug: everything)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab", description="Multi-node OVS/OVN labs from one YAML topology file."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    _global_conventions(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("up", help="build a lab from a topology file")
    p.add_argument(
        "topology",
        nargs="?",
        help="topology YAML file, or the name of a shipped example (lab examples)",
    )
    p.add_argument("--bundle", metavar="FILE.tar.gz", help="rebuild a lab from `lab bundle`")
    p.add_argument("--provider", choices=["netns", "docker", "ssh"], help="override provider")
    p.add_argument("--name", help="override the lab name (run one file twice side by side)")
    p.add_argument(
        "--inventory", "-i", metavar="FILE", help="provider ssh: Ansible inventory of the hosts"
    )
    p.add_argument(
        "--known-hosts",
        metavar="FILE",
        help="provider ssh: known_hosts file holding the hosts' keys (default ~/.ssh/known_hosts)",
    )
    p.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="provider ssh: trust hosts seen for the first time and record their keys",
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands, change nothing")
    p.add_argument(
        "--keep-on-error",
        action="store_true",
        help="leave a failed lab in place for debugging instead of rolling back",
    )
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("plan", help="print what `lab up` would do (same as up --dry-run)")
    p.add_argument(
        "topology", help="topology YAML file, or the name of a shipped example (lab examples)"
    )
    p.add_argument("--name", help="override the lab name")
    add_output_option(p)
    p.set_defaults(
        func=cmd_up,
        dry_run=True,
        bundle=None,
        provider=None,
        keep_on_error=False,
        inventory=None,
        known_hosts=None,
        accept_new_host_keys=False,
    )

    p = sub.add_parser("down", help="remove everything a lab created")
    p.add_argument("name", nargs="?", help="lab (default: the only lab up)")
    p.add_argument("--all", action="store_true", help="every lab on this machine")
    p.add_argument(
        "--force",
        action="store_true",
        help="a lab whose state is unreadable: remove its namespaces and containers found "
        "by name and label, and its state directory",
    )
    p.add_argument(
        "--forget-unreachable",
        action="store_true",
        help="provider ssh: give up on hosts that cannot be reached (destroyed) instead of "
        "keeping the lab's state for a retry",
    )
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="nodes, daemons, chassis and port bindings")
    p.add_argument("name", nargs="?", help="lab (default: every lab up)")
    add_output_option(p)
    p.set_defaults(func=cmd_status)

    for name, func, text in (
        ("stop", cmd_stop, "crash a node: kill its daemons, cut its fabric links"),
        ("start", cmd_start, "restore a stopped node"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--lab")
        p.add_argument("node", help="a node of the lab (central, chassis or gateway)")
        p.set_defaults(func=func)

    p = sub.add_parser("check", help="run the topology's checks; exit 1 on any failure")
    p.add_argument("name", nargs="?", help="lab (default: the only lab up)")
    add_output_option(p, json_alias=False)  # --json FILE writes a file (the DESIGN contract)
    p.add_argument(
        "-o",
        "--out",
        "--json",
        dest="json_file",
        metavar="FILE",
        help="also write the results as JSON (the --output json document) to FILE",
    )
    p.add_argument("--junit", metavar="FILE", help="write results as JUnit XML")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("exec", help="run a command in a node or VM")
    p.add_argument("--lab")
    p.add_argument("target", help="node or VM name")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    p.set_defaults(func=cmd_exec)

    p = sub.add_parser("image", help="the docker provider's node image")
    image_sub = p.add_subparsers(dest="image_command", required=True, metavar="ACTION")
    p = image_sub.add_parser(
        "build", help="build ovn-lab/node:<ovs>-<ovn> offline (debootstrap + docker import)"
    )
    p.add_argument(
        "--ovn-from", default="debian", help="where OVS/OVN come from (debian: Debian's packages)"
    )
    p.add_argument("--suite", help="Debian release (default: this machine's)")
    p.add_argument(
        "--build", help="the image of one build: debian:bookworm, debian:trixie, source:PATH"
    )
    p.add_argument("--mirror", help="Debian mirror URL (default: the one apt uses here)")
    p.add_argument("--force", action="store_true", help="rebuild even if the inputs are the same")
    p.set_defaults(func=cmd_image_build)

    from lab import (
        acceptance,
        bundle_cli,
        conntrack,
        examples,
        gen,
        graph_cli,
        heal,
        inspect,
        provision,
        upgrade_cli,
        vms,
        wirefaults_cli,
    )

    upgrade_cli.add_parsers(sub)
    inspect.add_parsers(sub)
    heal.add_parser(sub)
    vms.add_parsers(sub)
    graph_cli.add_parser(sub)
    gen.add_parser(sub)
    acceptance.add_parser(sub)
    provision.add_parser(sub)
    wirefaults_cli.add_parsers(sub)
    bundle_cli.add_parser(sub)
    conntrack.add_parser(sub)
    examples.add_parser(sub)

    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of the topology file (for editors)",
        description="Print the JSON Schema (2020-12) of topology files, made from the model "
        "this version of lab validates with. Editors with the YAML language server complete "
        "and check a topology that starts with `# yaml-language-server: $schema=FILE`. "
        "Example: `lab schema -o topology.schema.json`.",
    )
    add_file_option(p, help="write it to FILE instead of stdout")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser(
        "completion",
        help="print shell completion: source <(lab completion bash)",
        description="Print a completion script for bash or zsh, generated from lab's own "
        "commands. Example: `source <(lab completion bash)`, or save `lab completion zsh` "
        "as _lab in a directory of $fpath.",
    )
    p.add_argument("shell", choices=["bash", "zsh"], help="the shell to complete for")
    p.set_defaults(func=cmd_completion)

    for name, func, tool in (("nbctl", cmd_nbctl, "ovn-nbctl"), ("sbctl", cmd_sbctl, "ovn-sbctl")):
        p = sub.add_parser(name, help=f"{tool} against the lab's database")
        p.add_argument("--lab")
        p.add_argument("args", nargs=argparse.REMAINDER, help=f"-- {tool} ARGS")
        p.set_defaults(func=func)
    from lab.cli_help import finish

    finish(parser)  # every command's example, the shared arguments' help
    return parser


def _missing_extra(exc: BaseException) -> str | None:
    from lab.extras import missing_extra_message

    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return missing_extra_message(exc.name)
    return None


def _quiet() -> None:
    """-q: progress spinners and notes off (here and in every command run below), while
    errors still reach stderr through `failure`."""
    os.environ["OVN_LAB_QUIET"] = "1"
    err.quiet = True


failure = Console(stderr=True, soft_wrap=True)  # errors: shown even with -q


def _pipe_closed() -> int:
    """The reader of our output went away (`lab status --json | head -1`): stop quietly, as
    a Unix filter does, and keep Python from complaining while it flushes at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, what a shell reports for a filter killed by the pipe


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # --help and --version print from in here
    except BrokenPipeError:
        return _pipe_closed()
    if args.debug or args.global_verbose:
        import logging

        level = logging.DEBUG if args.debug else logging.INFO
        logging.basicConfig(level=level, format="%(name)s: %(message)s")
    if args.global_quiet:
        _quiet()
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not at exit
        return code
    except BrokenPipeError:
        return _pipe_closed()
    except LabError as exc:
        if args.debug:
            raise
        failure.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        failure.print("interrupted")
        return 130
    except Exception as exc:  # a bug: say so, briefly, unless --debug
        if args.debug:
            raise
        hint = _missing_extra(exc)
        if hint is not None:  # an optional part that is not installed: not a bug
            failure.print(f"[red]error:[/red] {escape(hint)}", highlight=False)
            return 2
        failure.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {exc} (rerun with --debug)"
        )
        return 3
