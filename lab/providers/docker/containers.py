"""The docker provider: every node is a container `<lab>.<node>` with its own filesystem,
process tree and hostname, visible in `docker ps`.

Containers start with no network (`network_mode: none`, so nothing reaches the outside
and docker's bridge is never used). The container's network namespace is then pinned at
/run/netns/<lab>.<node>, the name the netns provider would give the node: fabric wiring,
VM plugging and checks work on it unchanged (pyroute2 by namespace), and the node's own
daemons run inside the container (docker exec). The node's run/log/db directory is
bind-mounted at the same path, so sockets, pidfiles and logs are where the netns
provider puts them.

Everything is labelled `ovn-lab.lab=<lab>`, so `lab down` finds a lab's containers even
when its state file is lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.errors import RuntimeFailure, UserError
from lab.extras import available, require
from lab.fabric import nsfs
from lab.naming import check_lab_name
from lab.state.store import state_root

if TYPE_CHECKING:
    import docker

LAB_LABEL = "ovn-lab.lab"
NODE_LABEL = "ovn-lab.node"
INSTANCE_LABEL = "ovn-lab.instance"  # which lab of that name (lab.state.ownership)
# The state root the lab lives under: a lab found by label without its state is only
# this state root's to remove (two state roots may each have a lab of one name).
ROOT_LABEL = "ovn-lab.state.store-root"
# What a node needs, and no more: --privileged fails where the capability bounding set is
# reduced, and would hand the node the whole host.
CAPABILITIES = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_NICE"]
MARKER = "container.json"  # in the node dir: this node is a container (name, init PID)
DOCKER_SOCKET = Path("/var/run/docker.sock")
VM_NETNS_ROOT = Path("/run/ovn-lab")

# The SDK's ssh transport imports paramiko, a tenth of a second of every docker lab's `lab
# up`; a lab's docker daemon is this machine's (its containers are entered through /proc),
# so that transport is never used. Only before the SDK is first imported (then it stays).
if "docker" not in sys.modules:
    sys.modules.setdefault("docker.transport.sshconn", None)  # type: ignore[arg-type]

_client: docker.DockerClient | None = None
_client_lock = threading.Lock()


def client() -> docker.DockerClient:
    """One client per process (its connection pool is shared by the bring-up threads)."""
    global _client
    with _client_lock:
        if _client is None:
            docker = require("docker")  # the [docker] extra

            try:
                candidate = docker.from_env(timeout=120)
                candidate.ping()
            except docker.errors.DockerException as exc:
                raise UserError(
                    f"the docker daemon is not reachable ({_short(exc)}); start it with "
                    "`systemctl start docker` (or `dockerd --bridge=none --iptables=false &`), "
                    "or use --provider netns"
                ) from None
            _client = candidate
        return _client


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def vm_netns_dir(lab: str, node: str) -> Path:
    """Where a chassis container's VMs' namespaces are pinned under their plain names; the
    container sees it as its own /run/netns, so `ip netns exec vm1 ...` works inside."""
    return VM_NETNS_ROOT / lab / node / "netns"


def create_node(
    lab: str,
    node: str,
    name: str,
    image: str,
    node_dir: Path,
    extra_mounts: Sequence[Path] = (),
    environment: Mapping[str, str] | None = None,
    instance: str = "",
    marker: str | None = None,
    on_created: Callable[[], None] | None = None,
) -> int:
    """Start the node's container and pin its network namespace at /run/netns/<name>.
    Returns the container's init PID (as the host sees it). `instance` goes into a label,
    `marker` onto the namespace's `lo` before it is pinned, `on_created` is called once the
    container exists (lab.state.ownership: from then on it is the lab's)."""
    import docker
    from docker.types import Mount

    mounts = [Mount(target=str(p), source=str(p), type="bind") for p in (node_dir, *extra_mounts)]
    # the VMs' namespaces, pinned on the host after the container started, appear inside
    mounts.append(
        Mount(
            target="/run/netns",
            source=str(prepare_vm_netns_dir(lab, node)),
            type="bind",
            read_only=True,
            propagation="rslave",
        )
    )
    try:
        container = client().containers.run(
            image,
            ["sleep", "infinity"],
            name=name,
            hostname=node,
            labels={
                LAB_LABEL: lab,
                NODE_LABEL: node,
                INSTANCE_LABEL: instance,
                ROOT_LABEL: str(state_root()),
            },
            environment=dict(environment or {}),
            network_mode="none",
            cap_add=CAPABILITIES,
            devices=["/dev/net/tun:/dev/net/tun:rwm"],
            mounts=mounts,
            init=True,  # reaps the daemons' orphans, like any init
            detach=True,
        )
    except docker.errors.ImageNotFound:
        raise UserError(
            f"docker image {image} is missing; build it with `lab image build`"
        ) from None
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            raise UserError(
                f"a docker container named '{name}' already exists and is not this lab's; "
                f"remove it with `docker rm -f {name}` or pick another lab name with --name"
            ) from None
        raise RuntimeFailure(f"cannot start container {name}: {_short(exc)}") from None
    if on_created is not None:
        on_created()
    container.reload()
    pid = int(container.attrs["State"]["Pid"])
    if not pid:
        raise RuntimeFailure(f"container {name} exited at once: {container.logs()[-200:]!r}")
    info = {"name": name, "pid": pid, "vm_netns_dir": str(vm_netns_dir(lab, node))}
    (node_dir / MARKER).write_text(json.dumps(info))
    if marker is not None:
        with nsfs.entered(f"/proc/{pid}/ns/net"):
            nsfs.set_lo_alias(marker)
    try:
        nsfs.pin(Path(f"/proc/{pid}/ns/net"), name)
    except FileExistsError:
        raise UserError(
            f"network namespace '{name}' already exists; another lab or a leftover holds it "
            f"(remove it with `ip netns delete {name}` or choose another lab name with --name)"
        ) from None
    return pid


def import_rootfs(root: Path, tag: str, labels: Mapping[str, str]) -> None:
    """`docker import` of a root filesystem directory, streamed as a tar (no temp file)."""
    repository, _, version = tag.partition(":")
    changes = [f'LABEL {key}="{value}"' for key, value in labels.items()]
    changes.append('CMD ["sleep", "infinity"]')
    with subprocess.Popen(
        ["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
    ) as tar:
        result = client().api.import_image_from_stream(
            tar.stdout, repository=repository, tag=version, changes=changes
        )
    if tar.returncode != 0:
        raise RuntimeFailure(f"tar of {root} failed (exit {tar.returncode})")
    if "error" in str(result).lower():
        raise RuntimeFailure(f"docker import failed: {str(result)[:300]}")


def lab_containers(lab: str | None) -> list[Any]:
    """The containers of one lab (or of every lab), found by label, running or not."""
    label = f"{LAB_LABEL}={check_lab_name(lab)}" if lab is not None else LAB_LABEL
    return client().containers.list(all=True, filters={"label": label})


def remove_lab_containers(
    lab: str,
    required: bool = False,
    names: Sequence[str] | None = None,
    instance: str = "",
    unlabelled_root: bool = False,
) -> list[str]:
    """Remove a lab's containers (with every process in them). Safe to repeat. A machine
    with no docker daemon has no containers to remove, unless the lab's state says it
    made some (`required`): then the daemon must be started first. `names`/`instance`:
    only those, and only those labelled with that instance (what the lab owns). Only
    containers of this state root (`unlabelled_root`: also those made before the label)."""
    if not required and not (DOCKER_SOCKET.exists() and available("docker")):
        return []
    import docker

    try:
        containers = lab_containers(lab)
    except UserError:
        if required:
            raise
        return []
    containers = [c for c in containers if in_this_root(c, unlabelled_root)]
    if names is not None:
        containers = [c for c in containers if c.name in names]
    if instance:
        containers = [c for c in containers if c.labels.get(INSTANCE_LABEL) == instance]

    def remove(container: Any) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)

    with ThreadPoolExecutor(max_workers=8) as pool:  # each removal waits on docker
        list(pool.map(remove, containers))
    removed = [c.name for c in containers]
    return removed


def in_this_root(container: Any, unlabelled: bool = False) -> bool:
    root = container.labels.get(ROOT_LABEL)
    return root == str(state_root()) or (unlabelled and root is None)


def container_of(node_dir: Path) -> dict[str, Any] | None:
    """{name, pid} when the node in `node_dir` is a container."""
    try:
        return json.loads((node_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None


def exec_in(name: str, argv: Sequence[str], env: Mapping[str, str], timeout: float = 30) -> str:
    """Run a command inside a container to completion (a daemon's --detach start)."""
    import docker

    try:
        container = client().containers.get(name)
        code, output = container.exec_run(list(argv), environment=dict(env), demux=False)
    except docker.errors.DockerException as exc:
        raise RuntimeFailure(f"docker exec in {name} failed: {_short(exc)}") from None
    text = (output or b"").decode(errors="replace")
    if code != 0:
        detail = text.strip().splitlines()
        raise RuntimeFailure(
            f"`{' '.join(argv[:6])}` in container {name} failed (exit {code}): "
            + (detail[-1] if detail else "no output")
        )
    return text


def host_pid(container_init_pid: int, pid_in_container: int) -> int | None:
    """The host PID of a process known by its PID inside a container's PID namespace."""
    try:
        target = os.stat(f"/proc/{container_init_pid}/ns/pid").st_ino
    except OSError:
        return None
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(f"{entry.path}/ns/pid").st_ino != target:
                continue
            with open(f"{entry.path}/status") as fh:
                for line in fh:
                    if line.startswith("NSpid:"):
                        if int(line.split()[-1]) == pid_in_container:
                            return int(entry.name)
                        break
        except (OSError, ValueError):
            continue
    return None


def exec_argv(name: str, argv: Sequence[str], env: Mapping[str, str], tty: bool) -> list[str]:
    """`docker exec` argv for `lab exec` on a container node: the docker CLI (not the SDK)
    because it passes the user's terminal, stdin and exit status straight through."""
    flags = ["-i", "-t"] if tty else ["-i"]
    env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    return ["docker", "exec", *flags, *env_args, name, *argv]


def container_init_pids(node_dir: Path) -> set[int]:
    """The processes that keep a node's container alive (docker-init and its `sleep`), to
    spare when only the node's daemons are to die (`lab stop`, `lab heal`)."""
    info = container_of(node_dir)
    if info is None:
        return set()
    keep: set[int] = set()
    # an upgraded node: its namespace's holder container too (lab.providers recreate_node)
    inits = [int(info["pid"]), *([int(info["holder_pid"])] if info.get("holder_pid") else [])]
    for init in inits:
        keep.add(init)
        try:
            children = Path(f"/proc/{init}/task/{init}/children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                if Path(f"/proc/{child}/comm").read_text().strip() == "sleep":
                    keep.add(int(child))
            except OSError:
                continue
    return keep


def prepare_vm_netns_dir(lab: str, node: str) -> Path:
    """A node's shared directory for VM namespace pins (made before its container mounts
    it: docker refuses slave propagation from a mount that is not shared)."""
    directory = vm_netns_dir(lab, node)
    nsfs.make_shared_mount(directory)
    return directory


def remove_vm_netns_dirs(lab: str) -> None:
    """Unpin the VMs' plain names and remove the lab's directories (the namespaces
    themselves go with their /run/netns pins)."""
    root = VM_NETNS_ROOT / check_lab_name(lab)  # never VM_NETNS_ROOT itself
    if not root.is_dir():
        return
    for mount in sorted(_mounts_below(root), key=lambda m: len(m.parts), reverse=True):
        nsfs.unmount_tree(mount)
    if _mounts_below(root):
        raise RuntimeFailure(f"{root} still has mounts; remove them with `umount -R {root}`")
    shutil.rmtree(root)  # only empty pin files and directories are left, nothing mounted
    with contextlib.suppress(OSError):
        VM_NETNS_ROOT.rmdir()


def _mounts_below(root: Path) -> list[Path]:
    with open("/proc/self/mounts") as fh:
        points = [Path(line.split()[1].replace("\\040", " ")) for line in fh]
    return [p for p in points if p == root or root in p.parents]


def show_vms_inside(node_dir: Path, vms: Sequence[tuple[str, str]]) -> None:
    """Pin each (vm name, host namespace name) in the chassis container's /run/netns."""
    info = container_of(node_dir)
    if info is None:
        return
    directory = Path(info["vm_netns_dir"])
    for vm, netns in vms:
        nsfs.pin(nsfs.NETNS_DIR / netns, vm, directory)


def hide_vm(node_dir: Path, vm: str) -> None:
    """Undo show_vms_inside for one VM (`lab del-vm`): its last pin goes, so does it."""
    info = container_of(node_dir)
    if info is not None:
        path = Path(info["vm_netns_dir"]) / vm
        nsfs.unmount_tree(path)
        path.unlink(missing_ok=True)


def pinned_vms(lab: str) -> list[str]:
    """Names of the VMs pinned in a lab's chassis containers (what a lost state forgot)."""
    root = VM_NETNS_ROOT / check_lab_name(lab)
    return sorted({p.name for p in root.glob("*/netns/*")}) if root.is_dir() else []


# the first container of an upgraded node, kept for its netns; "." is in no node name, so
# "<lab>.<node>.netns" is never another node's container
HOLDER_SUFFIX = ".netns"


def recreate_node(name: str, image: str, node_dir: Path) -> int:
    """`lab upgrade`: the node's container again, from another image, in the same network
    namespace (so its fabric links, VM veths and tap ports stay), with the same mounts
    (its directory: OVSDB files, sockets, logs), env, labels and capabilities.

    A namespace cannot be handed to a new container by path, so the node's first
    container stays as the namespace's holder (renamed <name>-netns, running only its
    `sleep`) and every new container joins it (network_mode container:<holder>). Its
    daemons must be stopped first. Returns the new container's init PID."""
    import docker
    from docker.types import Mount

    info = container_of(node_dir)
    if info is None:
        raise RuntimeFailure(f"{node_dir.name} is not a container node")
    dock = client()
    current = dock.containers.get(name)
    holder_name = str(info.get("holder") or "")
    if holder_name:
        current.remove(force=True)
    else:
        holder_name = name + HOLDER_SUFFIX
        current.rename(holder_name)
    holder = dock.containers.get(holder_name)
    mounts = []
    for m in holder.attrs["HostConfig"].get("Mounts") or []:
        propagation = (m.get("BindOptions") or {}).get("Propagation")
        mounts.append(
            Mount(
                target=m["Target"],
                source=m["Source"],
                type=m.get("Type", "bind"),
                read_only=bool(m.get("ReadOnly")),
                propagation=propagation,
            )
        )
    config = holder.attrs["Config"]
    env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
    try:
        container = dock.containers.run(
            image,
            ["sleep", "infinity"],
            name=name,
            labels=dict(config.get("Labels") or {}),
            environment=env,
            network_mode=f"container:{holder.id}",
            cap_add=CAPABILITIES,
            devices=["/dev/net/tun:/dev/net/tun:rwm"],
            mounts=mounts,
            init=True,
            detach=True,
        )
    except docker.errors.DockerException as exc:
        raise RuntimeFailure(f"cannot start container {name} from {image}: {_short(exc)}") from None
    container.reload()
    pid = int(container.attrs["State"]["Pid"])
    holder.reload()
    marker = {
        **info,
        "name": name,
        "pid": pid,
        "holder": holder_name,
        "holder_pid": int(holder.attrs["State"]["Pid"]),
        "image": image,
    }
    (node_dir / MARKER).write_text(json.dumps(marker))
    return pid
