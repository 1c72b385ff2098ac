"""One example for every command, shown at the end of its --help, and the help of the
arguments every command shares. Kept here, not in each module, so one table shows them all
and the unit tests can hold every command (also ones added later) to having one."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

SEED = "topologies/geneve-router.yaml"

# command path -> what a user types; every example is a real command line of this version
EXAMPLES: dict[str, str] = {
    "up": f"lab up {SEED}",
    "plan": f"lab plan {SEED} --output json",
    "down": "lab down geneve-router",
    "status": "lab status --output json",
    "stop": "lab stop worker1",
    "start": "lab start worker1",
    "check": "lab check geneve-router --junit checks.xml",
    "exec": "lab exec vm1 -- ping -c1 20.0.0.10",
    "image": "lab image build",
    "image build": "lab image build --build debian:trixie",
    "upgrade": "lab upgrade worker1 worker2 --to debian:trixie",
    "lflows": "lab lflows --datapath network1",
    "trace": "lab trace vm1 vm2 --output json",
    "capture": "lab capture worker1 --decode -c 5",
    "flows": "lab flows worker1 --table 0 --output json",
    "fdb": "lab fdb --network provider --output json",
    "gateways": "lab gateways --output json",
    "ports": "lab ports worker1",
    "heal": "lab heal geneve-router",
    "add-vm": "lab add-vm vm9 --chassis worker1 --switch network1 --ip 10.0.0.20/24",
    "del-vm": "lab del-vm vm9",
    "graph": f"lab graph {SEED} -o lab.png",
    "gen": "lab gen --chassis 100 --vms-per-chassis 10 --switches 4 -o big.yaml",
    "test": "lab test geneve-router --junit test.xml",
    "provision": "lab provision --inventory hosts.ini --check",
    "link": "lab link worker1 overlay down",
    "impair": "lab impair worker1 overlay --delay 50 --loss 1",
    "partition": "lab partition worker1 --from central",
    "bundle": "lab bundle geneve-router -o bug.tar.gz",
    "conntrack": "lab conntrack worker1 --output json",
    "schema": "lab schema -o topology.schema.json",
    "examples": "lab examples geneve-router -o mylab.yaml",
    "completion": "source <(lab completion bash)",
    "nbctl": "lab nbctl -- show",
    "sbctl": "lab sbctl -- list Chassis",
}

# arguments with one meaning in every command that takes them
SHARED_HELP = {
    "--lab": "the lab (default: the only lab up)",
}


def subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:  # type: ignore[type-arg]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command and sub-command: ("image", p), ("image build", p), ..."""
    sub = subparsers(parser)
    if sub is None:
        return
    for name, child in sub.choices.items():
        key = " ".join((*path, name))
        yield key, child
        yield from commands(child, (*path, name))


def finish(parser: argparse.ArgumentParser) -> None:
    """Give each command its example (as the epilog) and shared arguments their help."""
    for key, command in commands(parser):
        example = EXAMPLES.get(key)
        if example and not command.epilog:
            command.epilog = f"example: {example}"
        for action in command._actions:
            for option in action.option_strings:
                if not action.help and option in SHARED_HELP:
                    action.help = SHARED_HELP[option]


def has_example(command: argparse.ArgumentParser) -> bool:
    text = f"{command.description or ''} {command.epilog or ''}".lower()
    return "example: lab " in text or "example: `lab " in text or "example: source" in text
