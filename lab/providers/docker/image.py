"""`lab image build`: the docker provider's node image, built with no image registry.

debootstrap makes a Debian root filesystem holding OVS, OVN and the tools a node needs;
`docker import` turns it into the image `ovn-lab/node:<ovs>-<ovn>`. The image carries a
label with a hash of everything that went into it (suite, mirror, packages, this recipe),
so a build whose inputs did not change reuses the image instead of rebuilding.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.errors import RuntimeFailure, UserError

REPOSITORY = "ovn-lab/node"
INPUTS_LABEL = "ovn-lab.inputs"
RECIPE_VERSION = "1"  # bump when the way the root filesystem is made changes
PACKAGES = (
    "openvswitch-switch",
    "ovn-central",
    "ovn-host",
    "iproute2",
    "iputils-ping",
    "tcpdump",
    "ethtool",
    "openssh-server",
    "procps",
    "python3",  # Ansible and testinfra need a Python on the node
    "sudo",
)
CACHE_DIR = Path("/var/cache/ovn-lab")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


@dataclass(frozen=True)
class Recipe:
    suite: str
    mirror: str
    packages: tuple[str, ...] = PACKAGES

    @property
    def inputs(self) -> str:
        text = "\n".join([RECIPE_VERSION, self.suite, self.mirror, *sorted(self.packages)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_recipe(ovn_from: str = "debian", suite: str | None = None) -> Recipe:
    if ovn_from != "debian":
        raise UserError(
            f"--ovn-from {ovn_from} is not supported; use --ovn-from debian (Debian's OVS/OVN "
            "packages, built with debootstrap, no image registry needed)"
        )
    suite = suite or host_suite()
    return Recipe(suite=suite, mirror=host_mirror())


def host_suite() -> str:
    """This machine's Debian release, so the image's OVS/OVN match the host's tools."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return "bookworm"
    found = re.search(r"^VERSION_CODENAME=(\w+)", text, re.M)
    return found.group(1) if found else "bookworm"


def host_mirror() -> str:
    """The Debian mirror this machine's apt already uses (one-line or deb822 sources)."""
    files: list[Path] = []
    for src in APT_SOURCES:
        if src.is_dir():
            files += sorted(p for p in src.iterdir() if p.suffix in (".list", ".sources"))
        elif src.is_file():
            files.append(src)
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        for uri in re.findall(r"^\s*(?:deb\s+(?:\[[^]]*\]\s+)?|URIs:\s*)(\S+)", text, re.M):
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    raise UserError("no Debian mirror found in /etc/apt/sources.list*; pass one with --mirror URL")


def find_image(recipe: Recipe, repository: str = REPOSITORY) -> str | None:
    """The tag of an image built from exactly these inputs, if one exists."""
    from lab.providers.docker import containers as dockerprov

    images = dockerprov.client().images.list(
        name=repository, filters={"label": f"{INPUTS_LABEL}={recipe.inputs}"}
    )
    for image in images:
        for tag in image.tags:
            if tag.startswith(repository + ":"):
                return tag
    return None


def build(
    recipe: Recipe,
    say: Callable[[str], None] = lambda _line: None,
    force: bool = False,
    tag_of: Callable[[Path], str] | None = None,
    repository: str = REPOSITORY,
) -> tuple[str, bool]:
    """Build (or find) the node image (or, with `tag_of` naming it from its root
    filesystem, another image from the same kind of recipe). Returns (tag, built)."""
    from lab.providers.docker import containers as dockerprov

    if shutil.which("debootstrap") is None:
        raise UserError(
            "debootstrap is not installed; install it with: apt-get install -y debootstrap"
        )
    existing = None if force else find_image(recipe, repository)
    if existing:
        return existing, False
    debs = CACHE_DIR / "debs" / recipe.suite
    debs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ovn-lab-rootfs-", dir=CACHE_DIR) as tmp:
        root = Path(tmp) / "root"
        _debootstrap(recipe, root, debs, say)
        if tag_of is None:
            versions = _package_versions(root)
            tag = f"{REPOSITORY}:{versions['openvswitch-switch']}-{versions['ovn-host']}"
        else:
            tag = tag_of(root)
        _trim(root)
        say(f"importing the root filesystem as {tag}")
        dockerprov.import_rootfs(root, tag, {INPUTS_LABEL: recipe.inputs})
    return tag, True


def _debootstrap(recipe: Recipe, root: Path, debs: Path, say: Callable[[str], None]) -> None:
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--cache-dir={debs}",
        f"--include={','.join(recipe.packages)}",
        recipe.suite,
        str(root),
        recipe.mirror,
    ]
    log: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip())
            if line.startswith(("I: ", "W: ", "E: ")):
                say(line[3:].strip())
    if proc.returncode != 0:
        tail = "; ".join(log[-3:]) or "no output"
        raise RuntimeFailure(f"debootstrap failed (exit {proc.returncode}): {tail}")


def _package_versions(root: Path) -> dict[str, str]:
    """Upstream versions of OVS and OVN inside the root filesystem (for the image tag)."""
    out = subprocess.run(
        [
            "dpkg-query",
            f"--admindir={root / 'var/lib/dpkg'}",
            "-W",
            "-f=${Package} ${Version}\n",
            "openvswitch-switch",
            "ovn-host",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    versions = {}
    for line in out.splitlines():
        name, version = line.split(maxsplit=1)
        # 3.1.0-2+deb12u1 -> 3.1.0 ; 23.03.1-1~deb12u2 -> 23.03.1 (tags allow [\w.-])
        versions[name] = re.sub(r"^\d+:", "", version).split("-")[0].split("+")[0]
    return versions


def _trim(root: Path) -> None:
    """Drop what a node never needs: downloaded packages and apt lists."""
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (root / sub).glob("*"):
            if entry.is_file():
                entry.unlink()
    (root / "run/sshd").mkdir(parents=True, exist_ok=True)
