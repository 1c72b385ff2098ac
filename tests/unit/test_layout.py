"""The house shows the pipeline (docs/architecture.md): every import goes down the layers
or stays in its own, and no module imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2] / "lab"

# lowest first; a module may import its own layer and the ones before it
LAYERS = [
    ("base", ["lab", "lab.errors", "lab.naming", "lab.runner", "lab.progress", "lab.resources",
              "lab.extras", "lab.testhooks", "lab.output"]),
    ("topology", ["lab.topology"]),
    ("plan", ["lab.plan"]),
    ("state", ["lab.state"]),
    ("machinery", ["lab.fabric", "lab.ovn", "lab.vm"]),
    ("providers", ["lab.providers"]),
    ("ops", ["lab.ops"]),
    ("verify", ["lab.verify"]),
    ("report", ["lab.report"]),
    ("cli", ["lab.cli", "lab.__main__", "lab.pytest_plugin"]),
]  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(LAB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best, found = -1, None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), rank
    if found is None:
        raise AssertionError(f"{module} is in no layer of tests/unit/test_layout.py")
    return found


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in LAB.rglob("*.py") if "data" not in p.relative_to(LAB).parts}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every lab module imported anywhere in the file (top level or inside functions), but
    not under `if TYPE_CHECKING:` (names for annotations, never imported at run time)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    for block in ast.walk(tree):
        if isinstance(block, ast.If) and getattr(block.test, "id", None) == "TYPE_CHECKING":
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "lab"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "lab":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return {m for m in found if m in known}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, known) - {name} for name, path in mods.items()}


def test_every_module_has_a_layer() -> None:
    for name in modules():
        layer_of(name)


def test_imports_never_run_back_up() -> None:
    upward = [
        f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
        for a, targets in graph().items()
        for b in sorted(targets)
        if layer_of(b) > layer_of(a) and not b.startswith(a + ".")  # a package's own parts
    ]
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    g = graph()
    # a package's __init__ may import its own modules; that edge is not a dependency back
    edges = {a: {b for b in bs if not b.startswith(a + ".")} for a, bs in g.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan: strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not cycles, cycles


@pytest.mark.parametrize("word", ['provider == "', 'provider != "', "container_of("])
def test_no_provider_dispatch_outside_providers(word: str) -> None:
    """Which provider a lab runs on is asked of lab.providers, never tested by name."""
    found = [
        f"{path.relative_to(LAB.parent)}:{n}"
        for name, path in modules().items()
        if not name.startswith("lab.providers")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if word in line
    ]
    assert not found, found


def test_check_kinds_are_written_once_and_loader_and_runner_agree() -> None:
    from lab.topology.check_kinds import CHECK_KINDS
    from lab.topology.schema import check_specs
    from lab.verify.checks import CHECKS

    assert set(CHECKS) == set(CHECK_KINDS) == set(check_specs())


def test_every_provider_is_registered_and_implements_the_whole_interface() -> None:
    from lab import naming, providers
    from lab.providers.base import CAPABILITIES, Provider

    assert tuple(providers.REGISTRY) == naming.PROVIDERS
    wanted = {
        name
        for name in dir(Provider)
        if not name.startswith("_") and name not in dir(object) and name != "mro"
    } | set(Provider.__annotations__)
    for name in providers.REGISTRY:
        provider = providers.get(name)
        missing = sorted(w for w in wanted if not hasattr(provider, w))
        assert not missing, f"provider {name} lacks {missing}"
        assert provider.name == name
        assert provider.supports <= set(CAPABILITIES)
        lacking = set(CAPABILITIES) - provider.supports
        assert lacking <= set(provider.why_not), (
            f"{name}: say why not {lacking - set(provider.why_not)}"
        )


def test_an_unknown_provider_is_one_sentence() -> None:
    from lab import providers
    from lab.errors import UserError

    with pytest.raises(UserError, match="provider 'lxc' is not known; use netns, docker, ssh"):
        providers.get("lxc")


def test_every_module_attribute_used_exists() -> None:
    """`module.name` for a lab module imported as a name (from lab.ovn import db; import lab.ovn.db
    as z): the name exists there. Catches what a move leaves behind and ruff cannot see."""
    import importlib

    missing = []
    repo = LAB.parent
    files = [*modules().values(), *repo.glob("tests/**/*.py"), *repo.glob("benchmarks/*.py")]
    for path in files:
        tree = ast.parse(path.read_text())
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lab"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    if full in modules():
                        aliases[a.asname or a.name] = full
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("lab.") and a.asname:
                        aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
            ):
                module = importlib.import_module(aliases[node.value.id])
                if not hasattr(module, node.attr):
                    missing.append(f"{path.relative_to(LAB.parent)}:{node.lineno}: "
                                   f"{aliases[node.value.id]}.{node.attr}")  # fmt: skip
    assert not missing, "\n".join(missing)
