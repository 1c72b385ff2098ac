"""Files shipped inside the package (lab/data/): the Ansible playbooks and the testinfra suites.

Read through importlib.resources so they are found wherever the package is installed (a
checkout, a venv, pipx). ansible-runner and pytest need real directories, so a package that
is not on a file system (a zip) is copied out once per process.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

_extracted: dict[str, Path] = {}


def data_dir(name: str) -> Path:
    """The directory lab/data/`name` (e.g. "playbooks", "checks") as a real path."""
    node = resources.files("lab") / "data" / name
    if isinstance(node, Path):
        return node
    if name not in _extracted:  # e.g. a zipped package: copy the tree out
        target = Path(tempfile.mkdtemp(prefix=f"ovn-lab-{name}-"))
        atexit.register(shutil.rmtree, target, True)
        _copy(node, target)
        _extracted[name] = target
    return _extracted[name]


def _copy(node: Traversable, target: Path) -> None:
    for child in node.iterdir():
        if child.name == "__pycache__":
            continue
        if child.is_dir():
            (target / child.name).mkdir()
            _copy(child, target / child.name)
        else:
            (target / child.name).write_bytes(child.read_bytes())
