"""`build: source:PATH`: OVN (and the OVS it names) compiled from a developer's tree.

The tree is hashed by content (paths and bytes, `.git` left out), so an unchanged tree
never rebuilds and one changed file does. The build runs in a builder container made the
same offline way as node images (debootstrap + docker import, no registry), with no
network: the tree is mounted read-only and copied, OVS comes from the tree's `ovs/`
submodule when it is checked out or else from the builder's packaged OVS source
(Debian's `openvswitch-source`, as Debian builds OVN). Both are installed into a staging
directory kept in the cache; the node image is the builder suite's node image with that
staging tree copied over it.

A failed build names the step that failed and keeps the whole log.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.errors import RuntimeFailure
from lab.providers.docker import image
from lab.topology.builds import SourceTree

BUILDER_REPOSITORY = "ovn-lab/builder"
SOURCE_REPOSITORY = "ovn-lab/node"
SOURCE_CACHE = image.CACHE_DIR / "source"
BUILDER_SUITE = "trixie"
BUILD_RECIPE_VERSION = "1"  # bump when the build steps below change
BUILDER_PACKAGES = (
    "build-essential",
    "autoconf",
    "automake",
    "libtool",
    "pkgconf",
    "libssl-dev",
    "libcap-ng-dev",
    "libunbound-dev",
    "python3",
    "openvswitch-source",
    "procps",
    "xz-utils",
)
JOBS = "2"  # the machine is shared: never more than two compilers at once

# (step name, shell commands): the builder runs each with `set -e`, in /build.
STEPS: tuple[tuple[str, str], ...] = (
    ("copy the tree", "rm -rf /build/ovn && cp -a /src /build/ovn"),
    (
        "unpack OVS",
        "cd /build/ovn; if [ ! -f ovs/configure.ac ]; then "
        "echo 'ovs/ is not checked out: using the packaged OVS source'; "
        # a tarball in older releases of the package; trixie's ships the tree itself
        "rm -rf ovs; if ls /usr/src/openvswitch/openvswitch.tar.* >/dev/null 2>&1; then "
        "mkdir ovs && tar -xf /usr/src/openvswitch/openvswitch.tar.* -C ovs "
        "--strip-components=1; else cp -a /usr/src/openvswitch ovs; fi; fi",
    ),
    ("boot OVS", "cd /build/ovn/ovs && ./boot.sh"),
    (
        "configure OVS",
        "cd /build/ovn/ovs && ./configure --prefix=/usr --localstatedir=/var "
        "--sysconfdir=/etc --enable-ssl",
    ),
    ("make OVS", f"cd /build/ovn/ovs && make -j{JOBS}"),
    ("boot OVN", "cd /build/ovn && ./boot.sh"),
    (
        "configure OVN",
        "cd /build/ovn && ./configure --prefix=/usr --localstatedir=/var --sysconfdir=/etc "
        "--enable-ssl --with-ovs-source=/build/ovn/ovs",
    ),
    ("make OVN", f"cd /build/ovn && make -j{JOBS}"),
    (
        "install",
        "rm -rf /build/out && make -C /build/ovn/ovs install DESTDIR=/build/out "
        "&& make -C /build/ovn install DESTDIR=/build/out",
    ),
    (
        "versions",
        "LD_LIBRARY_PATH=/build/out/usr/lib /build/out/usr/sbin/ovs-vswitchd --version "
        "| head -1 > /build/versions && /build/out/usr/bin/ovn-controller --version "
        "| head -1 >> /build/versions",
    ),
)


def builder_recipe() -> image.Recipe:
    return image.Recipe(suite=BUILDER_SUITE, mirror=image.host_mirror(), packages=BUILDER_PACKAGES)


def builder_image(say: Callable[[str], None]) -> str:
    """The builder image (debootstrap + docker import, once per machine)."""
    recipe = builder_recipe()
    tag, _built = image.build(
        recipe,
        say=say,
        tag_of=lambda _root: f"{BUILDER_REPOSITORY}:{recipe.suite}-{recipe.inputs}",
        repository=BUILDER_REPOSITORY,
    )
    return tag


def build_key(tree: SourceTree) -> str:
    text = "\n".join(
        [BUILD_RECIPE_VERSION, tree.content_hash(), builder_recipe().inputs, *sorted(STEPS_TEXT)]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


STEPS_TEXT = [f"{name}: {cmd}" for name, cmd in STEPS]


@dataclass
class Built:
    key: str
    directory: Path  # SOURCE_CACHE/<key>: out/ (the install tree), build.log, versions
    ovs: str
    ovn: str
    seconds: float | None  # None when it came from the cache


def compile_tree(
    tree: SourceTree, say: Callable[[str], None] = lambda _l: None, force: bool = False
) -> Built:
    """Compile the tree in the builder (or find its result in the cache)."""
    tree.check()
    key = build_key(tree)
    directory = SOURCE_CACHE / key
    done = directory / "done"
    if done.exists() and not force:
        ovs, ovn = _read_versions(directory)
        return Built(key, directory, ovs, ovn, None)
    builder = builder_image(say)
    directory.mkdir(parents=True, exist_ok=True)
    done.unlink(missing_ok=True)
    log_path = directory / "build.log"
    start = time.monotonic()
    with open(log_path, "w") as log:
        for name, command in STEPS:
            say(name)
            log.write(f"==> {name}: {command}\n")
            log.flush()
            code = _run_step(builder, tree.path, directory, command, log)
            if code != 0:
                raise RuntimeFailure(
                    f"building source:{tree.path} failed at step '{name}' (exit {code}); "
                    f"the whole log is in {log_path}"
                )
    ovs, ovn = _read_versions(directory)
    # the install tree and the log stay; the ~700 MB working copy goes (a failed build
    # keeps it, to look into)
    shutil.rmtree(directory / "ovn", ignore_errors=True)
    done.write_text(f"{ovs} {ovn}\n")
    return Built(key, directory, ovs, ovn, time.monotonic() - start)


def _run_step(builder: str, src: Path, directory: Path, command: str, log: object) -> int:
    """One step in a fresh, network-less builder container (docker CLI: it streams)."""
    argv = [
        "nice",
        "-n",
        "19",
        "docker",
        "run",
        "--rm",
        "--network=none",
        f"--mount=type=bind,source={src.resolve()},target=/src,readonly",
        f"--mount=type=bind,source={directory},target=/build",
        builder,
        "nice",
        "-n",
        "19",
        "bash",
        "-ec",
        command,
    ]
    proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT)  # type: ignore[arg-type]
    return proc.returncode


def _read_versions(directory: Path) -> tuple[str, str]:
    """`ovs-vswitchd (Open vSwitch) 3.3.5` / `ovn-controller 24.03.9` -> 3.3.5, 24.03.9."""
    lines = (directory / "versions").read_text().splitlines()
    found = [re.search(r"(\d+\.\d+[\w.+~-]*)\s*$", line) for line in lines[:2]]
    if len(found) < 2 or not all(found):
        raise RuntimeFailure(f"cannot read the built versions from {directory / 'versions'}")
    return found[0].group(1), found[1].group(1)  # type: ignore[union-attr]


def node_image(
    tree: SourceTree, say: Callable[[str], None] = lambda _l: None, force: bool = False
) -> tuple[str, Built]:
    """The node image for a source tree: the builder suite's node image with the tree's
    OVS and OVN installed over it. Tagged ovn-lab/node:<ovs>-<ovn>-src<key>."""
    from lab.providers.docker import containers as dockerprov

    built = compile_tree(tree, say, force)
    tag = f"{SOURCE_REPOSITORY}:{built.ovs}-{built.ovn}-src{built.key[:8]}"
    client = dockerprov.client()
    if not force and client.images.list(name=tag):
        return tag, built
    base = image.Recipe(suite=BUILDER_SUITE, mirror=image.host_mirror())
    base_tag, _ = image.build(base, say=say)
    say(f"installing the build into {tag}")
    _install_and_commit(base_tag, built.directory / "out", tag, built.key)
    return tag, built


def _install_and_commit(base: str, out: Path, tag: str, key: str) -> None:
    """Copy the staged install tree over the base image *inside* a container of it, then
    commit that: absolute symlinks in the image (Debian's /etc/alternatives) resolve in
    the container, never on the host. --remove-destination replaces such a link by the
    built file instead of writing through it."""
    from lab.providers.docker import containers as dockerprov

    client = dockerprov.client()
    container = client.containers.run(
        base,
        ["sh", "-c", "cp -a --remove-destination /ovn-lab-out/. / && ldconfig"],
        network_mode="none",
        volumes={str(out): {"bind": "/ovn-lab-out", "mode": "ro"}},
        detach=True,
    )
    try:
        code = container.wait(timeout=600).get("StatusCode", 1)
        if code != 0:
            logs = container.logs().decode(errors="replace").strip().splitlines()
            raise RuntimeFailure(
                f"installing the build into {tag} failed (exit {code}): "
                + (logs[-1] if logs else "no output")
            )
        repository, _, version = tag.partition(":")
        container.commit(
            repository=repository,
            tag=version,
            changes=[f'LABEL {image.INPUTS_LABEL}="{key}"', 'CMD ["sleep", "infinity"]'],
        )
    finally:
        container.remove(force=True)
