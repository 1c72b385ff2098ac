"""`lab schema`: the JSON Schema of the topology format, made from the model, shipped as
docs/topology.schema.json, accepted by every shipped topology and documented key by key
in docs/topology.md."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from lab.errors import UserError
from lab.topology import gen
from lab.topology.check_kinds import CHECK_KINDS
from lab.topology.model import Topology
from lab.topology.schema import check_specs, schema_text, topology_schema
from lab.topology.source import read_source
from lab.topology.steps import assert_command

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "docs" / "topology.schema.json"
REFERENCE = REPO / "docs" / "topology.md"
TOPOLOGIES = sorted((REPO / "topologies").glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema=../docs/topology.schema.json"


# YAML 1.2 core schema: the plain scalars that are not text (booleans, null, numbers)
YAML12_NOT_TEXT = re.compile(
    r"true|True|TRUE|false|False|FALSE|null|Null|NULL|~|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


def as_editor_reads(path: Path) -> Any:
    """The file's data as a YAML 1.2 editor sees it: plain scalars that YAML 1.1 turns into
    numbers or booleans (`mac: 40:44:00:00:00:01`, `on:`) stay text, as lab reads them."""
    src = read_source(path.read_text(), str(path))
    data = src.data
    for where, text in src.plain.items():
        if YAML12_NOT_TEXT.fullmatch(text):  # true, 2011, null: the same in YAML 1.2
            continue
        parent = data
        for step in where[:-1]:
            parent = parent[step]
        parent[where[-1]] = text
    return data


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = topology_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_schema_is_what_lab_schema_prints() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lab", "schema"], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == schema_text()
    assert SHIPPED.read_text() == proc.stdout, (
        "docs/topology.schema.json is out of date: run `lab schema -o docs/topology.schema.json`"
    )


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.name)
def test_every_shipped_topology_names_the_schema_and_passes_it(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    assert path.read_text().splitlines()[0] == MODELINE
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(as_editor_reads(path))]
    assert errors == []


def test_the_full_valid_topology_and_a_generated_one_pass(
    validator: jsonschema.Draft202012Validator, tmp_path: Path
) -> None:
    full = REPO / "tests" / "unit" / "topology_valid" / "full.yaml"
    assert list(validator.iter_errors(as_editor_reads(full))) == []
    big = tmp_path / "big.yaml"
    big.write_text(gen.generate(chassis=3, vms_per_chassis=2, switches=2))
    assert list(validator.iter_errors(as_editor_reads(big))) == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"nodes": {"c": {"role": "central", "colour": "red"}}}, "colour"),
        ({"nodes": {"c": {"role": "leader"}}}, "leader"),
        ({"provider": "lxc"}, "lxc"),
        ({"name": "Bad Name"}, "Bad Name"),
        ({"checks": [{"pingg": {"from": "vm1", "to": "vm2"}}]}, "pingg"),
        ({"checks": [{"ping": {"from": "vm1", "to": "vm2", "cuont": 3}}]}, "cuont"),
        ({"checks": [{"ping": {"to": "vm2"}}]}, "from"),
        ({"checks": [{"ping": {"from": "a", "to": "b"}, "trace": {}}]}, "trace"),
        ({"nodes": {"c": {"role": "central", "links": [{"a": None, "b": None}]}}}, "links"),
        ({"vms": {"v": {"chassis": "c", "switch": "s", "mac": "m"}}}, "ip"),
    ],
)
def test_mistakes_are_flagged_in_the_editor(
    validator: jsonschema.Draft202012Validator, change: dict[str, Any], why: str
) -> None:
    data = {"name": "t", "nodes": {"c": {"role": "central"}}, **change}
    errors = list(validator.iter_errors(data))
    assert errors, f"the schema accepts {change}"


def test_links_take_all_three_written_forms(validator: jsonschema.Draft202012Validator) -> None:
    for links in (["overlay"], ["overlay", {"ext": "198.51.100.1/24"}], {"overlay": None}):
        data = {"name": "t", "nodes": {"c": {"role": "central", "links": links}}}
        assert list(validator.iter_errors(data)) == [], links


def test_every_check_kind_has_its_settings_in_the_schema() -> None:
    specs = check_specs()
    missing = sorted(CHECK_KINDS - set(specs))
    assert not missing, (
        f"check kinds {missing} validate their settings without `_require(spec, KIND, ...)` in "
        "lab/verify; call it (or extend lab/topology/schema.py) so editors know the settings"
    )
    defs = topology_schema()["$defs"]
    for kind in CHECK_KINDS:
        settings = defs[f"check-{kind}"]["properties"][kind]
        required, optional = specs[kind]
        assert set(settings["properties"]) == {*required, *optional}
        assert settings.get("required", []) == required


def _model_fields(model: type[BaseModel], seen: set[str]) -> dict[str, set[str]]:
    """Every pydantic model reachable from Topology -> its field names (aliases as written)."""
    found = {model.__name__: {f.alias or name for name, f in model.model_fields.items()}}
    seen.add(model.__name__)
    for field in model.model_fields.values():
        for arg in _types(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg.__name__ not in seen:
                found.update(_model_fields(arg, seen))
    return found


def _types(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", ())
    return [annotation, *[t for a in args for t in _types(a)]]


def test_every_key_of_the_model_is_in_the_schema() -> None:
    schema = topology_schema()
    for name, fields in _model_fields(Topology, set()).items():
        if name == "Link":  # written as `links:` forms, see the Node test above
            continue
        where = schema if name == "Topology" else schema["$defs"][name]
        assert set(where["properties"]) == fields, name


def _sections(text: str) -> dict[str, str]:
    """Heading `(Def)` marker -> the text up to the next heading."""
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("#"):
            marker = re.search(r"\(([\w-]+)\)\s*$", line)
            current = marker.group(1) if marker else None
            if current:
                sections[current] = ""
        elif current:
            sections[current] += line + "\n"
    return sections


def test_docs_topology_md_documents_every_key_where_it_belongs() -> None:
    schema = topology_schema()
    sections = _sections(REFERENCE.read_text())
    objects: dict[str, dict[str, Any]] = {"Topology": schema["properties"]}
    for name, definition in schema["$defs"].items():
        if name.startswith("check-"):
            kind = name.removeprefix("check-")
            objects[name] = definition["properties"][kind]["properties"]
        elif "properties" in definition:
            objects[name] = definition["properties"]
    undocumented = []
    for name, properties in objects.items():
        if name not in sections:
            undocumented.append(f"a section headed '... ({name})'")
            continue
        for key in properties:
            if f"| `{key}` |" not in sections[name]:
                undocumented.append(f"`{key}` in the ({name}) section")
    assert not undocumented, "docs/topology.md lacks " + "; ".join(undocumented)
    assert "(Check)" in REFERENCE.read_text()


def test_the_schema_file_is_linked_from_the_reference() -> None:
    assert "topology.schema.json" in REFERENCE.read_text()
    assert json.loads(SHIPPED.read_text())["title"] == "ovn-lab topology"


def test_every_check_setting_says_what_it_holds() -> None:
    defs = topology_schema()["$defs"]
    untyped = [
        f"{kind}.{key}"
        for kind in CHECK_KINDS
        for key, value in defs[f"check-{kind}"]["properties"][kind]["properties"].items()
        if not value
    ]
    assert not untyped, f"give {untyped} a value in CHECK_KEYS or KIND_KEYS of schema.py"


def test_settings_come_from_every_validator_of_a_kind() -> None:
    from lab.topology.check_kinds import L4_KEYS
    from lab.topology.steps import STEP_KEYS

    specs = check_specs()
    required, optional = specs["trace"]  # plain and ACL traces: one kind, L4 keys optional
    assert required == ["from", "to"]
    assert {"path", "output", *L4_KEYS} == set(optional)
    for kind, (step_required, step_optional) in STEP_KEYS.items():
        assert specs[kind] == (list(step_required), list(step_optional))
    # the loader's connect rule and the check's settings list the same keys
    from lab.topology.security import CONNECT_KEYS

    assert [*specs["connect"][0], *specs["connect"][1]] == list(CONNECT_KEYS)


@pytest.mark.parametrize(
    "spec",
    [
        {"nbctl": ["show"], "on": "c", "match": "x"},
        {"run": ["true"], "match": "x"},
        {"nbctl": ["show"], "sbctl": ["show"], "match": "x"},
        {"sbctl": ["show"], "match": "x", "json": {"a": 1}},
        {"sbctl": ["show"]},
    ],
)
def test_an_assert_runs_one_command_and_matches_one_way(
    validator: jsonschema.Draft202012Validator, spec: dict[str, Any]
) -> None:
    data = {"name": "t", "nodes": {"c": {"role": "central"}}, "checks": [{"assert": spec}]}
    assert list(validator.iter_errors(data)), f"the schema accepts assert {spec}"
    with pytest.raises(UserError):
        assert_command(spec)


def test_step_and_l4_settings_are_typed(validator: jsonschema.Draft202012Validator) -> None:
    for check in (
        {"link": {"node": "c", "fabric": "overlay", "state": "sideways"}},
        {"impair": {"node": "c", "fabric": "overlay", "loss_pct": 150}},
        {"connect": {"from": "a", "to": "b", "port": 70000}},
        {"connect": {"from": "a", "to": "b", "port": 22, "expect": "maybe"}},
        {"trace": {"from": "a", "to": "b", "proto": "sctp", "port": 22}},
    ):
        data = {"name": "t", "nodes": {"c": {"role": "central"}}, "checks": [check]}
        assert list(validator.iter_errors(data)), f"the schema accepts {check}"


def _validators_before(annotation: Any) -> list[Any]:
    """The BeforeValidators anywhere in an annotation (dict[str, Annotated[..., V]])."""
    from pydantic.functional_validators import BeforeValidator

    found = [m for m in getattr(annotation, "__metadata__", ()) if isinstance(m, BeforeValidator)]
    return found + [
        v for arg in getattr(annotation, "__args__", ()) for v in _validators_before(arg)
    ]


def test_fields_normalised_before_validation_say_what_is_written() -> None:
    from pydantic_core import PydanticUndefined

    bare = [
        f"{model.__name__}.{name}"
        for model in _all_models(Topology)
        for name, field in model.model_fields.items()
        for validator in _validators_before(field.annotation)
        if validator.json_schema_input_type is PydanticUndefined
    ]
    assert not bare, f"give the BeforeValidator of {bare} json_schema_input_type (what YAML holds)"


def _all_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        for arg in _types(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found += [m for m in _all_models(arg) if m not in found]
    return found


def test_written_forms_the_model_takes_pass(validator: jsonschema.Draft202012Validator) -> None:
    for dns in ({"vm1.lab.test": "10.0.0.10"}, {"vm1.lab.test": ["10.0.0.10", "2001:db8::10"]}):
        data = {
            "name": "t",
            "nodes": {"c": {"role": "central"}},
            "ovn": {"switches": {"s": {"dns": dns}}},
        }
        assert list(validator.iter_errors(data)) == [], dns
    for build in ("host", "debian:trixie", "source:../ovn"):
        data = {"name": "t", "build": build, "nodes": {"c": {"role": "central", "build": build}}}
        assert list(validator.iter_errors(data)) == [], build
    for build in ("debian:sid", "ubuntu:noble", "source:"):
        data = {"name": "t", "build": build, "nodes": {"c": {"role": "central"}}}
        assert list(validator.iter_errors(data)), f"the schema accepts build {build}"
