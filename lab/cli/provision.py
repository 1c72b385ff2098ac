"""`lab provision`: install and start OVS/OVN on SSH hosts with the shipped playbooks."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from lab.cli.common import err
from lab.errors import UserError


def cmd_provision(args: argparse.Namespace) -> int:
    from lab.providers.ssh.provision import (
        EventWatcher,
        ProgressView,
        run_error,
        run_playbook,
        summary_json,
        summary_table,
    )

    inventory = Path(args.inventory)
    if not inventory.exists():
        raise UserError(f"inventory {inventory} does not exist (an Ansible INI or YAML file)")
    known_hosts = Path(args.known_hosts) if args.known_hosts else None
    if known_hosts is not None and not known_hosts.is_file() and not args.accept_new_host_keys:
        raise UserError(f"known_hosts file {known_hosts} does not exist (make it with ssh-keyscan)")
    watcher = EventWatcher()
    view = ProgressView(err, verbose=args.verbose)
    spinner = err.status("starting ansible-playbook") if err.is_terminal else nullcontext()
    with spinner as status:
        view.status = status
        outcome = run_playbook(
            inventory.resolve(),
            lambda event: view.show(watcher.handle(event)),
            limit=args.limit,
            check=args.check,
            known_hosts=known_hosts.resolve() if known_hosts else None,
            accept_new_host_keys=args.accept_new_host_keys,
            forks=args.forks,
        )
    error = run_error(watcher, outcome.rc, outcome.output, inventory)
    if watcher.counts():
        err.print(summary_table(watcher.counts()))
    if args.output == "json":
        from lab.output import emit

        emit("provision", **summary_json(inventory, outcome, watcher, error, args.check))
    if error is not None:
        raise error
    changed = sum(t.changed for t in watcher.counts().values())
    mode = " (check mode: nothing was changed)" if args.check else ""
    err.print(
        f"provisioned {len(watcher.counts())} hosts in {outcome.seconds:.1f} s, "
        f"{changed} changes{mode}"
    )
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "provision",
        help="install and start OVS/OVN on SSH hosts with Ansible (the shipped site.yml)",
        description="Run the shipped site.yml playbook through ansible-runner. Inventory groups: "
        "central (NB/SB databases, ovn-northd), chassis (ovs-vswitchd, ovn-controller), gateway "
        "(a chassis with ovn-cms-options=enable-chassis-as-gw). Host keys are checked: "
        "known_hosts must hold them (see --known-hosts), unless --accept-new-host-keys.",
    )
    p.add_argument("--inventory", "-i", required=True, metavar="FILE", help="Ansible inventory")
    p.add_argument("--limit", metavar="HOST", help="only these hosts (an Ansible host pattern)")
    p.add_argument("--check", action="store_true", help="dry run: report what would change")
    p.add_argument(
        "--forks",
        type=int,
        metavar="N",
        help="hosts provisioned side by side (Ansible's default: 5; raise it for many hosts)",
    )
    p.add_argument(
        "--known-hosts",
        metavar="FILE",
        help="ssh known_hosts file holding the hosts' keys (default: ~/.ssh/known_hosts)",
    )
    p.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="trust a host's key on first contact and record it (ssh "
        "StrictHostKeyChecking=accept-new); a changed key is still refused",
    )
    from lab.output import add_output_option

    add_output_option(p)  # --json: the summary as JSON on stdout
    p.add_argument(
        "--verbose", "-v", action="store_true", help="show skipped tasks and Ansible warnings too"
    )
    p.set_defaults(func=cmd_provision)
