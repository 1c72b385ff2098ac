"""YAML text -> plain Python data, plus the line of every key and list item.

PyYAML's own loader loses line numbers and silently keeps the last of two
duplicate keys, so we walk the composed node tree ourselves. Mapping keys are
kept as the text the user wrote: YAML 1.1 would otherwise read the check key
`on:` as the boolean True.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lab.errors import Problem, TopologyError
from lab.topology.problems import Path, dotted

MAX_DEPTH = 50
# Values after alias expansion; stops "billion laughs" documents from eating memory.
MAX_VALUES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class Source:
    """A parsed topology file. `problems` holds what was found while reading it."""

    filename: str
    data: Any = None
    lines: dict[Path, int] = field(default_factory=dict)
    # Plain (unquoted) scalars that YAML read as something other than text, e.g.
    # `mac: 40:44:00:00:00:01` is a base-60 integer in YAML 1.1. Keyed by path.
    plain: dict[Path, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: Path) -> int | None:
        """Line of `path`, or of its nearest ancestor that is written in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


class _BoundedLoader(yaml.SafeLoader):
    """The pure-Python parser, without libyaml or to report libyaml's error in its words.
    Stops composing after MAX_VALUES nodes: PyYAML builds the whole node tree before the
    walker sees any of it, and a 15 MB file of one-line items would take a minute and
    gigabytes. (Aliases are not composed again, so alias bombs are the walker's to stop.)"""

    def __init__(self, text: str):
        super().__init__(text)
        self.composed = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.composed += 1
        if self.composed > MAX_VALUES:
            mark = self.peek_event().start_mark
            raise _Stop(
                f"the file has more than {MAX_VALUES} values; a topology this big is not "
                "supported (split the lab)",
                mark.line + 1,
            )
        return super().compose_node(parent, index)  # type: ignore[no-any-return]


# libyaml's parser, which PyYAML's wheels carry: ~40x faster than the pure-Python one.
_CLoader: Any = getattr(yaml, "CSafeLoader", None)
_NODE_EVENTS = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.AliasEvent)
_START_EVENTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_END_EVENTS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _prescan(text: str) -> bool:
    """One pass of libyaml's event parser, each event dropped as soon as it is counted: a
    file with more than MAX_VALUES values or nested deeper than the walker goes is refused
    here, early and in constant memory (composing a 4 MB file of tiny items in pure Python
    took 4-8 s and 140 MB). True: the file is YAML, so compose it with libyaml too; False:
    libyaml found an error, which the pure-Python parser then reports in its words."""
    loader = _CLoader(text)
    nodes = depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, _NODE_EVENTS):
                nodes += 1
                if nodes > MAX_VALUES:
                    raise _Stop(
                        f"the file has more than {MAX_VALUES} values; a topology this big is "
                        "not supported (split the lab)",
                        event.start_mark.line + 1,
                    )
            if isinstance(event, _START_EVENTS):
                depth += 1
                if depth > MAX_DEPTH + 1:  # the walker would refuse it too, later
                    raise _Stop(_too_deep())
            elif isinstance(event, _END_EVENTS):
                depth -= 1
    except yaml.YAMLError:
        return False
    finally:
        loader.dispose()
    return True


class _Stop(Exception):
    """The document cannot be read any further."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def read_source(text: str, filename: str) -> Source:
    """Parse `text`. Raises TopologyError if it is not YAML at all."""
    src = Source(filename)
    try:
        fast = _CLoader is not None and _prescan(text)
        loader = _CLoader(text) if fast else _BoundedLoader(text)
    except yaml.YAMLError as err:  # the reader rejects control characters up front
        raise TopologyError([_yaml_problem(filename, text, err)]) from None
    except _Stop as err:
        raise TopologyError([Problem(filename, err.line, "", str(err))]) from None
    try:
        root = loader.get_single_node()
        if root is not None:
            src.lines[()] = root.start_mark.line + 1
            src.data = _Walker(loader, src).walk(root, (), 0)
    except yaml.YAMLError as err:
        raise TopologyError([_yaml_problem(filename, text, err)]) from None
    except _Stop as err:
        raise TopologyError([Problem(filename, err.line, "", str(err))]) from None
    except RecursionError:
        raise TopologyError([Problem(filename, None, "", _too_deep())]) from None
    finally:
        loader.dispose()
    return src


def _too_deep() -> str:
    return f"the file is nested more than {MAX_DEPTH} levels deep; flatten it"


def _yaml_problem(filename: str, text: str, err: yaml.YAMLError) -> Problem:
    mark = getattr(err, "problem_mark", None)
    if mark is not None:
        reason = getattr(err, "problem", None) or str(err)
        line, column = mark.line + 1, mark.column + 1
    else:  # ReaderError: a character YAML does not allow
        reason = getattr(err, "reason", None) or str(err)
        position = getattr(err, "position", 0)
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
    reason = " ".join(str(reason).split())
    return Problem(
        filename,
        line,
        "",
        f"invalid YAML at column {column}: {reason}; check the indentation and quoting there",
    )


class _Walker:
    def __init__(self, loader: yaml.SafeLoader, src: Source):
        self.loader = loader
        self.src = src
        self.count = 0
        self.active: set[int] = set()  # nodes being walked: an alias to one of them loops

    def walk(self, node: Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _Stop(f"the file expands to more than {MAX_VALUES} values; use fewer aliases")
        if depth > MAX_DEPTH:
            raise _Stop(_too_deep())
        if id(node) in self.active:
            raise _Stop(
                "an alias refers to a value that contains it; remove the recursive alias",
                node.start_mark.line + 1,
            )
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path, depth)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path, depth)
            return self._scalar(node, path)
        finally:
            self.active.discard(id(node))

    def _sequence(self, node: SequenceNode, path: Path, depth: int) -> list[Any]:
        items = []
        for index, item in enumerate(node.value):
            self.src.lines[(*path, index)] = item.start_mark.line + 1
            items.append(self.walk(item, (*path, index), depth + 1))
        return items

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:  # `<<: *defaults`: merged first, own keys win
                self._merge(result, value_node, path, depth)
            else:
                explicit.append((key_node, value_node))
        first_line: dict[str, int] = {}
        for key_node, value_node in explicit:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                self._problem(path, line, "a key must be plain text, not a list or mapping")
                continue
            key = key_node.value
            if key in first_line:
                self._problem(
                    (*path, key),
                    line,
                    f"duplicate key {key!r} (first at line {first_line[key]}); keep only one",
                )
                continue
            first_line[key] = line
            self.src.lines[(*path, key)] = line
            result[key] = self.walk(value_node, (*path, key), depth + 1)
        return result

    def _merge(self, result: dict[str, Any], node: Node, path: Path, depth: int) -> None:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            merged = self.walk(source, path, depth + 1)
            if not isinstance(merged, dict):
                line = source.start_mark.line + 1
                self._problem(path, line, "'<<' can only merge mappings; use an alias to a mapping")
                continue
            for key, value in merged.items():
                result.setdefault(key, value)

    def _scalar(self, node: Node, path: Path) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except Exception as err:  # tagged scalars (!!int x, bad dates) raise assorted errors
            reason = " ".join(str(err).split())[:120]
            self._problem(
                path,
                node.start_mark.line + 1,
                f"cannot read the value {node.value!r} ({reason}); quote it or fix its tag",
            )
            return None
        plain = getattr(node, "style", "?") in (None, "")  # libyaml says '' where PyYAML says None
        if plain and value is not None and not isinstance(value, str):
            self.src.plain[path] = node.value
        return value

    def _problem(self, path: Path, line: int, message: str) -> None:
        self.src.problems.append(Problem(self.src.filename, line, dotted(path), message))
