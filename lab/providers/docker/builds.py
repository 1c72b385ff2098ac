"""Which OVS/OVN a node runs: `build:` (DESIGN.md "Topology file (v2)").

  host             the host's own binaries (the netns provider's only build)
  debian:SUITE     Debian's packages of that release, in a docker node image
  source:PATH      an OVN tree compiled in a builder container (lab.providers.docker.source_build)

Every build but `host` runs in docker nodes, one image per build, each found by its
inputs or built once (with progress), and tagged by the OVS/OVN versions it holds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import UserError
from lab.ovn import versions as ovn_versions
from lab.ovn.versions import host_versions
from lab.topology.builds import HOST, Build, parse

if TYPE_CHECKING:
    from lab.plan.model import Plan
    from lab.progress import Progress
    from lab.state.store import LabState

# --- images ----------------------------------------------------------------------------------


def image_for(build: Build, progress: Progress | None = None) -> str:
    """The docker node image of a build: found by its inputs, or built now."""
    from lab.providers.docker import image

    if build.kind == "source":
        from lab.providers.docker import source_build

        assert build.path is not None
        tree = source_build.SourceTree(build.path)
        say = progress.note if progress else (lambda _line: None)
        if progress is None:
            return source_build.node_image(tree, say)[0]
        with progress.step(f"node image for source:{build.path} (cached by content)"):
            return source_build.node_image(tree, say)[0]
    recipe = image.default_recipe(suite=build.suite or None)
    found = image.find_image(recipe)
    if found:
        return found
    if progress is None:
        return image.build(recipe)[0]
    with progress.step(f"building the node image for Debian {recipe.suite} (once)"):
        return image.build(recipe, say=_quiet(progress.note))[0]


def _quiet(say):  # type: ignore[no-untyped-def]
    """debootstrap's per-package lines are noise in a progress display: keep the rest."""

    def filtered(line: str) -> None:
        if not line.startswith(("Retrieving ", "Validating ", "Extracting ", "Unpacking ")):
            say(line)

    return filtered


def images_for(plan: Plan, progress: Progress | None = None) -> dict[str, str]:
    """node -> image for a docker lab (each distinct build made or found once)."""
    by_build: dict[str, str] = {}
    result = {}
    for node in plan.nodes.values():
        text = getattr(node, "build", HOST) or HOST
        if text not in by_build:
            by_build[text] = image_for(parse(text), progress)
        result[node.name] = by_build[text]
    return result


def versions_of_image(tag: str) -> tuple[str, str]:
    """(OVS, OVN) from a node image tag ovn-lab/node:<ovs>-<ovn>[-src<key>]."""
    found = re.match(r"^[^:]+:(\d[\w.+~]*)-(\d[\w.+~]*)", tag)
    return (found.group(1), found.group(2)) if found else ("?", "?")


def build_image_command(text: str, force: bool = False) -> int:
    """`lab image build --build B`: make (or find) one build's image, print its tag."""
    import time

    from lab.progress import Progress
    from lab.providers.docker import image

    build = parse(text, Path.cwd())
    if build.kind == HOST:
        raise UserError(
            "build host runs the host's own binaries and has no image; "
            "use debian:bookworm, debian:trixie or source:PATH"
        )
    start = time.monotonic()
    progress = Progress()
    if force and build.kind == "debian":
        with progress.step(f"node image from Debian {build.suite} (debootstrap + docker import)"):
            tag = image.build(image.default_recipe(suite=build.suite), _quiet(progress.note), True)[
                0
            ]
    elif force:
        from lab.providers.docker import source_build

        assert build.path is not None
        with progress.step(f"node image for source:{build.path}"):
            tag = source_build.node_image(
                source_build.SourceTree(build.path), progress.note, force=True
            )[0]
    else:
        tag = image_for(build, progress)
    import sys

    sys.stderr.write(f"{tag} ready in {time.monotonic() - start:.1f} s\n")
    print(tag)
    return 0


def refuse_mix(plan: Plan, images: dict[str, str]) -> None:
    """Before anything is created: a mix of releases OVN's upgrade guide rules out."""
    ovn = {name: versions_of_image(tag)[1] for name, tag in images.items()}
    controllers = {n: ovn[n] for n, node in plan.nodes.items() if node.is_chassis and n in ovn}
    centrals = {n: ovn[n] for n, node in plan.nodes.items() if node.role == "central" and n in ovn}
    message = ovn_versions.refusal(controllers, centrals)
    if message:
        raise UserError(message)


def node_versions(state: LabState) -> dict[str, tuple[str, str]]:
    """node -> (OVS, OVN) it runs: from its image's tag, or the host's for `host`."""
    images = state.info.images
    host: tuple[str, str] | None = None
    result = {}
    for name in state.info.nodes:
        tag = images.get(name)
        if tag:
            result[name] = versions_of_image(tag)
        else:
            host = host or host_versions()
            result[name] = host
    return result


def version_warnings(state: LabState) -> list[str]:
    """OVN's upgrade-guide rules a lab of mixed releases breaks (see lab.ovn.versions)."""
    versions = node_versions(state)
    nodes = state.info.nodes
    controllers = {n: versions[n][1] for n, v in nodes.items() if v.role in ("chassis", "gateway")}
    centrals = {n: versions[n][1] for n, v in nodes.items() if v.role == "central"}
    return ovn_versions.mixed_warnings(controllers, centrals)
