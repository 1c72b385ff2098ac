"""Optional parts of ovn-lab and the pip extra that installs each.

The core (netns labs, checks, `lab test`) needs none of them. A command that needs one that is
missing says which extra to install, in one sentence, instead of an ImportError.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from types import ModuleType

from lab.errors import UserError

# top-level module -> (extra, what needs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "docker": ("docker", "the docker provider (and `lab image build`)"),
    "paramiko": ("ssh", "provider ssh"),
    "ansible_runner": ("ssh", "`lab provision`"),
    "ansible": ("ssh", "`lab provision`"),
}


def extra_packages(extra: str) -> list[str]:
    """The distributions an extra adds, as the installed package's metadata lists them."""
    from importlib import metadata

    try:
        requires = metadata.requires("ovn-lab") or []
    except metadata.PackageNotFoundError:
        return []
    names = []
    for line in requires:
        spec, _, marker = line.partition(";")
        if f'extra == "{extra}"' in marker.replace("'", '"'):
            name = re.match(r"[A-Za-z0-9._-]+", spec.strip())
            if name:
                names.append(name.group())
    return names


def install_hint(extra: str) -> str:
    packages = " ".join(extra_packages(extra)) or extra
    return f"pip install 'ovn-lab[{extra}]' (with pipx: pipx inject ovn-lab {packages})"


def missing_extra_message(module: str) -> str | None:
    """The sentence for a ModuleNotFoundError of `module`, if an extra provides it."""
    root = module.split(".")[0]
    if root not in EXTRAS:
        return None
    extra, what = EXTRAS[root]
    return (
        f"{what} needs the Python package '{root}', which is not installed; "
        f"install the [{extra}] extra: {install_hint(extra)}"
    )


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require(module: str) -> ModuleType:
    """Import `module`, or raise UserError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc.name or module)
        if message is None:
            raise
        raise UserError(message) from None
