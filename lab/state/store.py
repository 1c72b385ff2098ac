"""What a lab has created, written down before (or as) it is created.

`lab down` reads this to remove exactly what the lab owns, even after a crash
at any point: a resource is recorded *before* it is made, so at worst teardown
finds it already gone. Each lab has its own directory (0700) under the state
root holding state.json and the daemons' run/log/db directories.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import LabError, UserError
from lab.naming import DEFAULT_PROVIDER, PROVIDERS, check_lab_name, is_lab_name
from lab.state.info import LabInfo

DEFAULT_ROOT = "/var/lib/ovn-lab"


def state_root() -> Path:
    return Path(os.environ.get("OVN_LAB_STATE_DIR", DEFAULT_ROOT))


def lab_dir(lab: str) -> Path:
    """The lab's own directory: always a direct child of the state root."""
    return state_root() / check_lab_name(lab)


def node_dir(state: LabState, node: str) -> Path:
    """A node's own run/log/db directory inside its lab's state directory."""
    return state.dir / node


@dataclass
class LabState:
    """The record of one lab. Mutations are saved atomically at once."""

    name: str
    topology: str = ""
    provider: str = DEFAULT_PROVIDER
    phase: str = "creating"  # creating | up | failed | stopping
    created: float = field(default_factory=time.time)
    # kind -> ordered list of resource names, e.g. {"netns": [...], "dir": [...]}
    resources: dict[str, list[str]] = field(default_factory=dict)
    # what the lab is, for later commands (lab.state.info: nodes, links, VMs, addresses)
    info: LabInfo = field(default_factory=LabInfo)
    # Ownership (lab.state.ownership): a name goes into `pending` before the lab tries to create
    # it and moves to `resources` once the lab has made it. Teardown removes `resources`,
    # and of `pending` only what carries this lab's marker: a name that already existed
    # when the lab went to create it is never removed. `instance` tells this lab from an
    # earlier or other lab of the same name ("" for state written before ownership).
    pending: dict[str, list[str]] = field(default_factory=dict)
    instance: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.info, dict):  # the JSON form (tests, hand-made states)
            self.info = LabInfo.from_json(self.info)

    @property
    def dir(self) -> Path:
        return lab_dir(self.name)

    @property
    def path(self) -> Path:
        return self.dir / "state.json"

    def record(self, kind: str, name: str) -> None:
        """Record a resource; call this *before* creating it."""
        with self._lock:
            items = self.resources.setdefault(kind, [])
            if name not in items:
                items.append(name)
                self._save_locked()

    def record_many(self, kind: str, names: list[str]) -> None:
        """Record several resources in one write; call this *before* creating them."""
        with self._lock:
            items = self.resources.setdefault(kind, [])
            new = [n for n in names if n not in items]
            if new:
                items.extend(new)
                self._save_locked()

    def claim(self, kind: str, names: list[str]) -> None:
        """About to create these (lab.state.ownership): recorded as pending, not yet ours."""
        with self._lock:
            items = self.pending.setdefault(kind, [])
            new = [n for n in names if n not in items]
            if new:
                items.extend(new)
                self._save_locked()

    def confirm(self, kind: str, names: list[str], dropped: list[str] | None = None) -> None:
        """Created by this lab: pending -> owned; `dropped`: not created after all."""
        with self._lock:
            if names:
                owned = self.resources.setdefault(kind, [])
                owned.extend(n for n in names if n not in owned)
            gone = {*names, *(dropped or [])}
            left = [n for n in self.pending.get(kind, []) if n not in gone]
            if left:
                self.pending[kind] = left
            else:
                self.pending.pop(kind, None)
            self._save_locked()

    def unclaim(self, kind: str, names: list[str]) -> None:
        """Not created after all (the name was taken, or creating it failed)."""
        self.confirm(kind, [], names)

    def forget(self, kind: str, name: str) -> None:
        with self._lock:
            items = self.resources.get(kind, [])
            if name in items:
                items.remove(name)
                self._save_locked()

    def set(self, **changes: Any) -> None:
        """Change record fields (phase, resources...) and save. The lab's info is changed
        on `self.info` itself, then saved with save()."""
        with self._lock:
            for key, value in changes.items():
                if key == "info" and isinstance(value, dict):
                    value = LabInfo.from_json(value)
                setattr(self, key, value)
            self._save_locked()

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    def refresh(self) -> LabState:
        """Re-read the record from disk, in place. Every command that changes a lab does
        this once it holds the lab's lock, so it saves on top of what others saved before
        it (two `lab add-vm` at once: both VMs recorded)."""
        current = load_state(self.name)
        if current is None:
            raise UserError(f"lab '{self.name}' is gone (brought down meanwhile)")
        with self._lock:
            for key in ("topology", "provider", "phase", "created", "instance"):
                setattr(self, key, getattr(current, key))
            # the same objects, refilled: callers holding `state.info` see the new contents
            for key in ("resources", "pending"):
                mine = getattr(self, key)
                mine.clear()
                mine.update(getattr(current, key))
            self.info.__dict__.update(current.info.__dict__)
        return self

    def _save_locked(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {
            "name": self.name,
            "topology": self.topology,
            "provider": self.provider,
            "phase": self.phase,
            "created": self.created,
            "resources": self.resources,
            "pending": self.pending,
            "instance": self.instance,
            "info": self.info.to_json(),
        }
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def create_state(name: str, topology: str, provider: str) -> LabState:
    root = state_root()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory = lab_dir(name)
    refuse_leftover(name)
    directory.mkdir(mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    state = LabState(name=name, topology=topology, provider=provider, instance=uuid.uuid4().hex)
    state.save()
    return state


def refuse_leftover(name: str) -> None:
    """A lab directory without a state file that holds anything (old databases, a CA,
    logs) is neither reused for a new lab nor wiped: it cannot be told to be this lab's."""
    directory = lab_dir(name)
    if directory.is_dir() and not is_empty_leftover(directory):
        raise UserError(
            f"{directory} is left from an earlier lab {name} (it has no state file); "
            f"remove it with `lab down {name} --force`, or pick another name with --name"
        )


def is_empty_leftover(directory: Path) -> bool:
    """A lab directory holding nothing but what a crash inside create_state can leave
    (a half-written state.tmp): provably nothing of value, safe to reuse or remove."""
    try:
        return all(p.name == "state.tmp" for p in directory.iterdir())
    except OSError:
        return False


class CorruptState(UserError):
    """A state file that is not one this program wrote for this lab (truncated, emptied,
    edited, or another lab's): one sentence saying what is wrong and what to do."""

    def __init__(self, name: str, path: Path, why: str):
        self.lab = name
        super().__init__(
            f"lab {name}'s state file {path} {why}; `lab down {name} --force` removes the "
            f"lab's namespaces and containers found by name and label, and the file"
        )


def load_state(name: str) -> LabState | None:
    path = lab_dir(name) / "state.json"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptState(name, path, f"cannot be read ({exc})") from None
    if not text.strip():
        raise CorruptState(name, path, "is empty")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CorruptState(name, path, f"is not valid JSON ({exc}), perhaps truncated") from None
    why = _state_problem(name, data)
    if why:
        raise CorruptState(name, path, why)
    try:
        info = LabInfo.from_json(data.get("info", {}))
    except (TypeError, ValueError, AttributeError) as exc:  # a member missing a field
        raise CorruptState(name, path, f"has an unusable lab description ({exc})") from None
    return LabState(
        name=data["name"],
        topology=data.get("topology", ""),
        provider=data.get("provider", DEFAULT_PROVIDER),
        phase=data.get("phase", "creating"),
        created=data.get("created", 0.0),
        resources=data.get("resources", {}),
        info=info,
        pending=data.get("pending", {}),
        instance=data.get("instance", ""),
    )


def _names_by_kind(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v)
        for k, v in value.items()
    )


def _state_problem(name: str, data: Any) -> str | None:
    """What makes `data` not a state file of lab `name`, or None."""
    if not isinstance(data, dict):
        return f"holds {type(data).__name__} instead of a lab's record"
    if data.get("name") != name:
        return f"belongs to a lab named {data.get('name')!r}, not {name!r}"
    texts = ("topology", "provider", "phase", "instance")
    if any(not isinstance(data.get(k, ""), str) for k in texts):
        return "has a field of the wrong type"
    if data.get("provider", DEFAULT_PROVIDER) not in PROVIDERS:
        return f"names an unknown provider {data.get('provider')!r}"
    if not isinstance(data.get("created", 0.0), int | float):
        return "has a field of the wrong type"
    if not _names_by_kind(data.get("resources", {})) or not _names_by_kind(data.get("pending", {})):
        return "lists its resources in a form this version does not know"
    info = data.get("info", {})
    if not isinstance(info, dict):
        return "has no usable lab description (info)"
    for section in ("nodes", "vms"):
        members = info.get(section, {})
        # netns null: a node that is an SSH host itself (lab.providers.ssh.build.adapt_info)
        if not isinstance(members, dict) or not all(
            isinstance(m, dict)
            and isinstance(m.get("role", ""), str)
            and isinstance(m.get("netns", ""), str | None)
            for m in members.values()
        ):
            return f"has an unusable list of {section}"
    return None


def list_labs() -> list[str]:
    root = state_root()
    if not root.is_dir():
        return []
    return sorted(
        p.name for p in root.iterdir() if is_lab_name(p.name) and (p / "state.json").is_file()
    )


def resolve_lab(name: str | None) -> str:
    """The lab a command is about: the one named, or the only one that exists."""
    labs = list_labs()
    if name is not None:  # `lab down ""` names no lab; it must not mean "the only one"
        check_lab_name(name)
        if name not in labs:
            known = ", ".join(labs) or "none"
            raise UserError(f"no lab named '{name}' is up (labs: {known}); see `lab status`")
        return name
    if len(labs) == 1:
        return labs[0]
    if not labs:
        raise UserError("no lab is up; start one with `lab up TOPOLOGY`")
    raise UserError(f"several labs are up ({', '.join(labs)}); name one with --lab NAME")


def open_lab(name: str | None) -> LabState:
    """The state of the lab a command is about (named, or the only one up)."""
    lab = resolve_lab(name)
    state = load_state(lab)
    if state is None:  # raced with `lab down`
        raise UserError(f"lab '{lab}' is gone")
    return state


@contextlib.contextmanager
def lab_lock(name: str, remove_after: bool = False) -> Iterator[None]:
    """Serialise commands that change one lab (up, down, stop, start).

    `lab down` removes the lock file when done (no state may remain). A waiter
    that then wakes up holding the unlinked file retries on the new one, so two
    holders can never run at once."""
    root = state_root()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock_path = root / f".{check_lab_name(name)}.lock"
    while True:
        fh = open(lock_path, "a")  # noqa: SIM115 (held across the yield)
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            current = os.stat(lock_path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fh.fileno()).st_ino:
            break
        fh.close()
    try:
        yield
    finally:
        # Also when the body raised (a rolled-back `lab up`): no state, no lock file.
        if remove_after and not (lab_dir(name) / "state.json").exists():
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def remove_state_dir(name: str) -> None:
    """The lab's own directory, a direct child of the state root, and nothing else."""
    directory = lab_dir(name)
    if directory.parent != state_root() or directory.name != name:
        raise LabError(f"refusing to remove {directory}: not a lab directory")
    shutil.rmtree(directory, ignore_errors=True)
