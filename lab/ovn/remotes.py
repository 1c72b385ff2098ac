"""Where the lab's own clients reach the OVN databases: the centrals' unix sockets.

One central: `unix:<central>/ovnnb_db.sock`. Three (a raft cluster): every central's
socket, comma-separated; ovn-nbctl / ovn-sbctl / ovsdb-client then try them in turn and,
being leader-only by default, settle on the cluster leader whichever central that is."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# A central node's directory, or the directories of every central of the lab (cluster).
Centrals = Path | Sequence[Path]

NB_SOCK = "ovnnb_db.sock"
SB_SOCK = "ovnsb_db.sock"


def central_list(centrals: Centrals) -> list[Path]:
    return [centrals] if isinstance(centrals, Path) else list(centrals)


def unix_remote(centrals: Centrals, sock: str) -> str:
    return ",".join(f"unix:{d / sock}" for d in central_list(centrals))


def nb_db(centrals: Centrals) -> str:
    return unix_remote(centrals, NB_SOCK)


def sb_db(centrals: Centrals) -> str:
    return unix_remote(centrals, SB_SOCK)
