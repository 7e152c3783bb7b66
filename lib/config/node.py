"""Strict, typed configuration tree.

A `CfgNode` is a dict with attribute access whose keys and value types are fixed by the schema that built it.
Merging a YAML file, a dict or a command-line list rejects unknown keys and wrong types, naming the full key
path, the file and (for YAML) the line. Official experiment files are full dumps in the same UPPERCASE shape, so
they load unmodified as long as the family declares their keys.
"""
from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import yaml

from lib.utils.cli import UserError

BASE_KEY = "_BASE_"


class ConfigError(UserError, ValueError):
    """A config file or override does not fit the schema."""


class _DuplicateKeyError(yaml.MarkedYAMLError):
    pass


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` as a float (YAML 1.1 needs a dot, so PyYAML would return a string) and
    refuses a key given twice in one mapping (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                line = key_node.start_mark.line + 1
                if key_node.value in first:
                    raise _DuplicateKeyError(
                        problem=f"key '{key_node.value}' appears twice (lines {first[key_node.value]} and {line}); "
                                f"keep one of them (merge their contents)", problem_mark=key_node.start_mark)
                first[key_node.value] = line
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _key_lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """Map dotted key paths to 1-based line numbers of a composed YAML mapping."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = f"{prefix}{key_node.value}"
            lines[path] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, path + "."))
    return lines


def _yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error on one line: where, what, and (for duplicates) what to do."""
    if isinstance(error, _DuplicateKeyError):
        return str(error.problem)
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    return f"{where}invalid YAML: {problem}" + (f" ({context})" if context else "") + "; fix the syntax there"


def load_yaml(path: str) -> tuple[dict, dict[str, int]]:
    """Read a YAML mapping safely; return it with the line number of every key path."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start} is {e.object[e.start:e.start + 1]!r}); "
                          f"save the file as UTF-8") from e
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}; check the path") from e
    try:
        data = yaml.load(text, Loader=_Loader)
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: {_yaml_problem(e)}") from e
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data, _key_lines(root)


def _type_name(types: tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in types)


def _check_value(value: Any, types: tuple[type, ...]) -> Any:
    """Return `value` converted to one of `types`, or raise TypeError."""
    if value is None and type(None) in types:
        return None
    for t in types:
        if t is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if t is list and isinstance(value, tuple):
            return list(value)
        if t is bool and isinstance(value, bool):
            return value
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t not in (bool, int) and isinstance(value, t):
            return value
    raise TypeError(f"expected {_type_name(types)}, got {type(value).__name__} {value!r}")


class CfgNode(dict):
    """Config tree node: attribute access, strict merge, freeze.

    `new_allowed=True` makes a node a free mapping (for example per-dataset update intervals); the types of its
    children are then whatever the file gives. `types` overrides the inferred type of individual keys, e.g.
    `{"MAX_SAMPLE_INTERVAL": (int, list)}` where official files disagree.
    """

    def __init__(self, init: dict | None = None, new_allowed: bool = False,
                 types: dict[str, tuple[type, ...]] | None = None,
                 checks: dict[str, tuple[Callable[[Any], bool], str]] | None = None):
        super().__init__()
        object.__setattr__(self, "_frozen", False)
        object.__setattr__(self, "_new_allowed", new_allowed)
        object.__setattr__(self, "_types", dict(types or {}))
        object.__setattr__(self, "_checks", dict(checks or {}))
        for key, value in (init or {}).items():
            self[key] = CfgNode(value) if isinstance(value, dict) and not isinstance(value, CfgNode) else value

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key '{name}' (known: {', '.join(sorted(self))})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(f"config is frozen; cannot set '{name}'")
        self[name] = value

    def __deepcopy__(self, memo: dict) -> "CfgNode":
        new = CfgNode(new_allowed=self._new_allowed, types=self._types, checks=self._checks)
        for key, value in self.items():
            dict.__setitem__(new, key, copy.deepcopy(value, memo))
        return new

    def set_types(self, key: str, types: tuple[type, ...]) -> None:
        """Declare the accepted types of `key` (instead of the type of its default)."""
        self._types[key] = types

    def set_check(self, key: str, check: Callable[[Any], bool], requirement: str) -> None:
        """Refuse values of `key` for which `check(value)` is false; `requirement` says what is accepted
        (e.g. "an integer >= 1"). Checked on every merge, so the error names the file, line and key."""
        self._checks[key] = (check, requirement)

    def expected_types(self, key: str) -> tuple[type, ...] | None:
        if key in self._types:
            return self._types[key]
        default = self[key]
        if default is None:
            return None
        return (list,) if isinstance(default, (list, tuple)) else (type(default),)

    def freeze(self) -> "CfgNode":
        for value in self.values():
            if isinstance(value, CfgNode):
                value.freeze()
        object.__setattr__(self, "_frozen", True)
        return self

    @property
    def is_frozen(self) -> bool:
        return self._frozen

    def clone(self) -> "CfgNode":
        """An unfrozen deep copy."""
        new = copy.deepcopy(self)
        new._unfreeze()
        return new

    def _unfreeze(self) -> None:
        object.__setattr__(self, "_frozen", False)
        for value in self.values():
            if isinstance(value, CfgNode):
                value._unfreeze()

    def to_dict(self) -> dict:
        return {k: v.to_dict() if isinstance(v, CfgNode) else copy.deepcopy(v) for k, v in self.items()}

    def dump(self) -> str:
        """The resolved config as YAML text (loads back to the same values)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    def merge_from_dict(self, data: dict, source: str = "<dict>", lines: dict[str, int] | None = None,
                        prefix: str = "") -> None:
        """Merge `data` into this node, checking every key and type against the schema."""
        if self._frozen:
            raise ConfigError(f"{source}: config is frozen")
        lines = lines or {}
        for key, value in data.items():
            path = f"{prefix}{key}"
            where = f"{source}, line {lines[path]}" if path in lines else source
            if key not in self:
                if not self._new_allowed:
                    known = ", ".join(sorted(self)) or "(none)"
                    raise ConfigError(f"{where}: unknown config key '{path}' (valid keys here: {known})")
                dict.__setitem__(self, key, CfgNode(value, new_allowed=True) if isinstance(value, dict) else value)
                continue
            current = self[key]
            if isinstance(current, CfgNode):
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}: '{path}' is a section; expected a mapping, got {value!r}")
                current.merge_from_dict(value, source, lines, path + ".")
                continue
            types = self.expected_types(key)
            if types is not None:
                try:
                    value = _check_value(value, types)
                except TypeError as e:
                    raise ConfigError(f"{where}: '{path}': {e}") from None
            if key in self._checks and not self._checks[key][0](value):
                raise ConfigError(f"{where}: '{path}' must be {self._checks[key][1]}, got {value!r}; "
                                  f"set it to such a value")
            dict.__setitem__(self, key, value)

    def merge_from_file(self, path: str) -> None:
        """Merge a YAML file and its `_BASE_` chain (bases first, paths relative to the including file)."""
        self._merge_file(os.path.abspath(path), chain=())

    def _merge_file(self, path: str, chain: tuple[str, ...]) -> None:
        if path in chain:
            raise ConfigError(f"{path}: _BASE_ cycle: {' -> '.join(chain + (path,))}; remove one of these _BASE_ "
                              f"entries")
        data, lines = load_yaml(path)
        bases = data.pop(BASE_KEY, [])
        for base in [bases] if isinstance(bases, str) else bases:
            self._merge_file(os.path.join(os.path.dirname(path), base), chain + (path,))
        self.merge_from_dict(data, source=path, lines=lines)

    def merge_from_list(self, opts: Iterable[str]) -> None:
        """Merge command-line overrides `KEY.PATH VALUE ...`; values are parsed as YAML scalars."""
        opts = list(opts)
        if len(opts) % 2:
            raise ConfigError(f"overrides must be KEY VALUE pairs, got an odd count: {opts}; give a value to each key")
        for key, text in zip(opts[::2], opts[1::2]):
            try:
                value = yaml.load(text, Loader=_Loader) if isinstance(text, str) else text
            except yaml.YAMLError as e:
                problem = getattr(e, "problem", None) or str(e).splitlines()[0]
                raise ConfigError(f"command-line override {key}: value {text!r} is not valid YAML ({problem}); "
                                  f"quote it or fix its syntax") from None
            nested: dict = {}
            node = nested
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
            self.merge_from_dict(nested, source=f"command-line override {key}={text}")


@dataclass(frozen=True)
class NumberRule:
    """A `set_check` rule for finite numbers: above `low` (or at it, unless `strict`), at most `high`.
    A class rather than a closure, so that configs pickle (test workers receive them)."""

    low: float
    strict: bool = False
    high: float | None = None

    def __call__(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        above = value > self.low if self.strict else value >= self.low
        return above and (self.high is None or value <= self.high)


def at_least(minimum: int | float) -> tuple[Callable[[Any], bool], str]:
    """A `set_check` rule: a finite number >= `minimum`."""
    return NumberRule(minimum), f"a finite number >= {minimum}"


def positive() -> tuple[Callable[[Any], bool], str]:
    """A `set_check` rule: a finite number > 0."""
    return NumberRule(0, strict=True), "a finite number > 0"


def between(low: float, high: float) -> tuple[Callable[[Any], bool], str]:
    """A `set_check` rule: a finite number from `low` to `high`."""
    return NumberRule(low, high=high), f"a number from {low} to {high}"


@dataclass(frozen=True)
class ChoiceRule:
    """A `set_check` rule: one of a fixed set of values (a class so that configs pickle, like NumberRule)."""

    choices: tuple

    def __call__(self, value: Any) -> bool:
        return value in self.choices


def one_of(*choices: Any) -> tuple[Callable[[Any], bool], str]:
    """A `set_check` rule: one of `choices`."""
    return ChoiceRule(choices), "one of " + ", ".join(repr(c) for c in choices)
