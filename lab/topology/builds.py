"""The `build:` key: which OVS/OVN a node runs, as a topology writes it.

  host             the host's own binaries (the netns provider's only build)
  debian:SUITE     Debian's packages of that release, in a docker node image
  source:PATH      an OVN tree compiled in a builder container (lab.providers.docker.source_build)

Only the grammar lives here; building the images is the docker provider's
(lab.providers.docker.builds).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from lab.errors import UserError

HOST = "host"
# Debian releases whose packages the node image can hold, with what they ship
SUITES = {"bookworm": "OVS 3.1, OVN 23.03", "trixie": "OVS 3.5, OVN 25.03"}
KNOWN = "host, " + ", ".join(f"debian:{s}" for s in SUITES) + " or source:PATH"


@dataclass(frozen=True)
class Build:
    kind: str  # host | debian | source
    suite: str = ""
    path: Path | None = None

    def __str__(self) -> str:
        if self.kind == "debian":
            return f"debian:{self.suite}"
        if self.kind == "source":
            return f"source:{self.path}"
        return HOST


def parse(text: str, base: Path | None = None) -> Build:
    """A build as written; `source:` paths relative to `base` (the topology's folder).
    Raises UserError (one sentence, with the builds that exist) for anything else."""
    if text == HOST:
        return Build(HOST)
    kind, sep, rest = text.partition(":")
    if sep and kind == "debian" and rest in SUITES:
        return Build("debian", suite=rest)
    if sep and kind == "source" and rest:
        path = Path(rest).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        tree = SourceTree(path.resolve())
        tree.check(written=rest)
        return Build("source", path=tree.path)
    raise UserError(f"build '{text}' is not known; use {KNOWN}")


def problem(text: str, base: Path | None) -> str | None:
    """parse()'s complaint as a topology problem message, or None when the build is fine."""
    try:
        parse(text, base)
    except UserError as exc:
        return str(exc)
    return None


def canonical(text: str, base: Path | None) -> str:
    """The build as the rest of the lab sees it (source paths made absolute)."""
    return str(parse(text, base))


@dataclass(frozen=True)
class SourceTree:
    path: Path

    def check(self, written: str | None = None) -> None:
        """An OVN tree has OVN's schemas and controller; anything else is refused."""
        markers = ("ovn-nb.ovsschema", "ovn-sb.ovsschema", "controller/ovn-controller.c")
        if not self.path.is_dir() or not all((self.path / m).is_file() for m in markers):
            raise UserError(
                f"source:{written or self.path} is not an OVN source tree (no ovn-nb.ovsschema, "
                "ovn-sb.ovsschema and controller/ovn-controller.c); point it at a checkout "
                "of OVN"
            )

    def content_hash(self) -> str:
        """Paths, modes and bytes of every file (`.git` left out): the cache key."""
        digest = hashlib.sha256()
        for dirpath, dirnames, filenames in os.walk(self.path):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            for name in sorted(filenames):
                if name == ".git":  # a submodule's gitlink file
                    continue
                full = Path(dirpath) / name
                rel = full.relative_to(self.path).as_posix()
                if full.is_symlink():
                    digest.update(f"L {rel} {os.readlink(full)}\0".encode())
                    continue
                digest.update(f"F {rel} {full.stat().st_mode & 0o111:o}\0".encode())
                with open(full, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
        return digest.hexdigest()[:16]
