"""`build:` rules (lab.providers.docker.builds): every build known, `source:` an OVN tree, and a
non-host build only where nodes are containers. Paths are taken relative to the topology file."""

from __future__ import annotations

from pathlib import Path

from lab.errors import UserError
from lab.naming import BUILDS_PROVIDER, PROVIDER_RUNS_BUILDS
from lab.topology import builds
from lab.topology.model import Topology
from lab.topology.problems import Reporter
from lab.topology.shape import Parts


def _base(rep: Reporter) -> Path:
    return Path(rep.src.filename).resolve().parent


def check_builds(parts: Parts, rep: Reporter) -> None:
    base = _base(rep)
    written: list[tuple[tuple[str, ...], str]] = [(("build",), parts.build)]
    written += [
        (("nodes", n, "build"), node.build) for n, node in parts.nodes.items() if node.build
    ]
    non_host = False
    for path, text in written:
        message = builds.problem(text, base)
        if message:
            rep.add(path, message)
        elif text != builds.HOST:
            non_host = True
            # absolute from here on: the lab may be brought up from another folder
            _set(parts, path, builds.canonical(text, base))
    if non_host and parts.provider_written and not PROVIDER_RUNS_BUILDS.get(parts.provider):
        rep.add(
            ("provider",),
            f"provider {parts.provider} runs only the host's OVS/OVN, but a node has a "
            f"non-host build; use provider: {BUILDS_PROVIDER} (or leave provider: out) for "
            "builds other than host",
        )


def _set(parts: Parts, path: tuple[str, ...], value: str) -> None:
    if path == ("build",):
        parts.build = value
    else:
        parts.nodes[path[1]].build = value


def assembled_builds(parts: Parts) -> tuple[str, str]:
    """(top-level build, provider): a non-host build anywhere makes the lab a docker lab
    unless a provider was written (which check_builds then requires to run builds)."""
    non_host = parts.build != builds.HOST or any(
        n.build not in (None, builds.HOST) for n in parts.nodes.values()
    )
    provider = BUILDS_PROVIDER if non_host and not parts.provider_written else parts.provider
    return parts.build, provider


def refuse_provider(topo: Topology, provider: str) -> None:
    """`lab up --provider P`: a non-host build runs only where nodes can run builds."""
    if PROVIDER_RUNS_BUILDS.get(provider):
        return
    others = sorted({topo.node_build(n) for n in topo.nodes} - {builds.HOST})
    if others:
        raise UserError(
            f"--provider {provider} runs only the host's OVS/OVN, but the topology asks for "
            f"build {others[0]}; use --provider {BUILDS_PROVIDER} (or leave --provider out)"
        )
