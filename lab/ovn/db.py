"""Reading OVSDB tables (NB, SB, a node's Open_vSwitch) as rows, and decoding OVSDB JSON."""

from __future__ import annotations

import json

from lab.runner import run


def json_rows(text: str) -> list[list[object]]:
    """Rows of `--format=json` output, with OVSDB's ["set", []] for empty optionals as None."""
    data = json.loads(text)
    return [[None if v == ["set", []] else v for v in row] for row in data.get("data", [])]


def list_rows(
    tool: str,
    columns: str,
    table: str,
    db: str | None = None,
    netns: str | None = None,
    env: dict[str, str] | None = None,
    timeout: int = 10,
) -> list[list[object]] | None:
    """`TOOL [--db=DB] --format=json --columns=C list TABLE` as rows; None when the
    database cannot be read (a dead ovsdb-server is something to report, not a crash)."""
    argv = [
        tool,
        *([f"--db={db}"] if db else []),
        f"--timeout={timeout}",
        "--format=json",
        f"--columns={columns}",
        "list",
        table,
    ]
    proc = run(argv, netns=netns, env=env, check=False, timeout=timeout + 5)
    if proc.returncode != 0:
        return None
    return json_rows(proc.stdout)


def uuid_of(value: object) -> str | None:
    """OVSDB JSON ["uuid", "..."] -> "..."."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "uuid":
        return str(value[1])
    return None


def uuids_of(value: object) -> list[str]:
    """A reference column (one uuid or a set of them) -> list of uuids."""
    if isinstance(value, list) and value[:1] == ["set"]:
        return [str(v[1]) for v in value[1]]
    one = uuid_of(value)
    return [one] if one else []


def map_of(value: object) -> dict[str, str]:
    """OVSDB JSON ["map", [[k, v], ...]] -> dict."""
    if isinstance(value, list) and value[:1] == ["map"]:
        return {str(k): str(v) for k, v in value[1]}
    return {}
