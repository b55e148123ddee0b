"""Configuration files: YAML in, a validated pydantic model out, or one ConfigError that lists
every problem of the file as `file:line: <owner> key a.b[0]: what was expected`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, NamedTuple, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from services.kernel.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]
"""A path into a document: keys and list indexes, e.g. ("rules", 2, "when", "channel", 0)."""
Problem = tuple[Loc, str]
"""A problem found after validation (a duplicate name, a reference to another file): where, what."""
Check = Callable[[M], Sequence[Problem]]


class Label(NamedTuple):
    """How an operator knows the items of a list: with `Label("rule", "name")` for `rules`,
    an error says `rule #3 'card-fraud':` where it would say `rules[2]`."""

    noun: str
    key: str


Labels = Mapping[str, Label]
"""Top-level list key → the label of its items."""


def load_model(
    path: Path | str,
    model: type[M],
    *,
    check: Check[M] | None = None,
    labels: Labels | None = None,
) -> M:
    """Read, parse and validate one YAML file; `check` finds what the schema cannot see.

    Raises one ConfigError for the file: unreadable, not YAML (with the line), a duplicate key
    (the line of the second), or every validation and `check` problem at once."""
    return ConfigFile.read(path, labels=labels).validate(model, check=check)


def problems_error(
    path: Path | str, problems: Sequence[Problem], *, labels: Labels | None = None
) -> ConfigError:
    """A ConfigError for problems found later in a file that loaded (e.g. across files)."""
    return ConfigFile.read(path, labels=labels).error(problems)


class ConfigFile:
    """One parsed YAML file: its data, and the node tree that knows the line of every key."""

    def __init__(self, path: Path, data: Any, root: yaml.Node | None, labels: Labels) -> None:
        self.path = path
        self.data = data
        self.root = root
        self.labels = labels

    @classmethod
    def read(cls, path: Path | str, *, labels: Labels | None = None) -> ConfigFile:
        """The file parsed; ConfigError if unreadable, not YAML, with a duplicate key, or not a
        mapping at the top."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: cannot read the file: not UTF-8 text ({exc})") from exc
        loader: yaml.SafeLoader | None = None
        try:
            # the reader refuses characters YAML does not allow at once (a control character)
            loader = yaml.SafeLoader(text)
            root = loader.get_single_node()
            doc = cls(path, None, root, labels or {})
            # Before constructing: YAML keeps the last of two equal keys silently, so a second
            # `billing:` would erase the first, and merge keys (<<) rewrite the node tree.
            doc._refuse_duplicate_keys()
            doc.data = loader.construct_document(root) if root is not None else None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            raise ConfigError(
                f"{path}:{line}: not valid YAML: character U+{exc.character:04X} is not allowed"
                " (a control character)"
            ) from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            # PyYAML splits its sentence: "expected a single document in the stream", "but
            # found another document".
            context, problem = getattr(exc, "context", None), getattr(exc, "problem", None)
            if context and problem and problem.startswith(context):
                context = None
            problem = ", ".join(filter(None, [context, problem])) or exc
            raise ConfigError(f"{where}: not valid YAML: {problem}") from exc
        except ValueError as exc:  # a scalar YAML cannot construct, such as 2025-02-30
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        finally:
            if loader is not None:
                loader.dispose()
        if not isinstance(doc.data, dict):
            raise doc.error([((), f"expected a mapping of keys at the top, got {_kind(doc.data)}")])
        return doc

    def validate(self, model: type[M], *, check: Check[M] | None = None) -> M:
        """The data as `model`; ConfigError listing every problem if it is not."""
        try:
            result = model.model_validate(self.data)
        except ValidationError as exc:
            raise self.error([_problem(model, e) for e in exc.errors()]) from exc
        problems = check(result) if check else ()
        if problems:
            raise self.error(problems)
        return result

    def error(self, problems: Sequence[Problem]) -> ConfigError:
        """One ConfigError naming file, line, owner and key of each problem."""
        return self._error([self.describe(loc, message) for loc, message in problems])

    def describe(self, loc: Loc, message: str, *, line: int | None = None) -> str:
        """`file:line: rule #3 'name': key when.channel[0]: message` for one problem."""
        loc = self._keys(loc)
        line = line or self.line(loc)
        where = f"{self.path}:{line}" if line else str(self.path)
        owner, rest = self._owner(loc)
        key = _dotted(rest)
        return f"{where}: {owner}" + (f"key {key}: " if key else "") + message

    def _keys(self, loc: Loc) -> Loc:
        # Keys as the file writes them: pydantic gives a date key as its repr and an int key
        # like a list index.
        data, out = self.data, []
        for part in loc:
            if isinstance(data, dict):
                key = next((k for k in data if part in (k, str(k), repr(k))), None)
                data = data.get(key) if key is not None else None
                out.append(str(key) if key is not None else part)
            else:
                ok = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
                data = data[part] if ok else None
                out.append(part)
        return tuple(out)

    def line(self, loc: Loc) -> int | None:
        """The line of the deepest key (or list item) of `loc` that the file has."""
        return self._walk(loc)[0]

    def _walk(self, loc: Loc) -> tuple[int | None, yaml.Node | None]:
        # The line and node of the deepest part of `loc` the file has; None if not all of it.
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                # A key's own line reads better than where its block value starts.
                pairs = [(k, v) for k, v in node.value if str(k.value) == str(part)]
                if not pairs:
                    return line, None
                key, node = pairs[-1]
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return line, None
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line, None
        return line, node

    def _owner(self, loc: Loc) -> tuple[str, Loc]:
        if len(loc) < 2 or not isinstance(loc[1], int) or loc[0] not in self.labels:
            return "", loc
        noun, key = self.labels[str(loc[0])]
        name = self._walk((*loc[:2], key))[1]
        shown = f" {name.value!r}" if isinstance(name, yaml.ScalarNode) else ""
        return f"{noun} #{loc[1] + 1}{shown}: ", loc[2:]

    def _refuse_duplicate_keys(self) -> None:
        lines = [
            self.describe(loc, f"duplicate key (first on line {first})", line=second)
            for loc, second, first in _duplicate_keys(self.root, (), set())
        ]
        if lines:
            raise self._error(lines)

    def _error(self, lines: Sequence[str]) -> ConfigError:
        if len(lines) == 1:
            return ConfigError(lines[0])
        body = "\n".join(f"  {line}" for line in lines)
        return ConfigError(f"{self.path}: {len(lines)} problems\n{body}")


def _duplicate_keys(
    node: yaml.Node | None, loc: Loc, seen: set[int]
) -> Iterator[tuple[Loc, int, int]]:
    # (where, line of the second, line of the first); an anchored node is walked once.
    if node is None or id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is None:
                continue
            line = key.start_mark.line + 1
            if name in first:
                yield (*loc, name), line, first[name]
            first.setdefault(name, line)
            yield from _duplicate_keys(value, (*loc, name), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, i), seen)


_VALIDATOR_STEP = re.compile(r"^[a-z\-]*\[.*\]$")


def _loc(loc: tuple[Any, ...]) -> Loc:
    # pydantic puts validator steps (`function-before[...]`, `[key]`) into some locations.
    return tuple(p for p in loc if not (isinstance(p, str) and _VALIDATOR_STEP.match(p)))


def _problem(model: type[BaseModel], error: Any) -> Problem:
    loc = _loc(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return loc, "required key is missing"
    if kind == "extra_forbidden":
        allowed = _keys_at(model, loc[:-1])
        if not allowed:
            return loc, "unknown key (not allowed here)"
        return loc, f"unknown key: expected one of {', '.join(allowed)}"
    msg = str(error["msg"])
    if kind in ("value_error", "assertion_error"):
        # Our own validators say what they got; pydantic's own messages do not.
        return loc, msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if msg.startswith("Input should be "):
        msg = "expected " + msg.removeprefix("Input should be ")
    elif msg.startswith("String should match pattern "):
        msg = "expected text matching " + msg.removeprefix("String should match pattern ")
    value = error.get("input")
    if not isinstance(value, dict | list):
        shown = repr(value)
        msg += f" (got {shown[:60] + '…' if len(shown) > 60 else shown})"
    return loc, msg


def _keys_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the schema allows at `loc`, following the model's type annotations."""
    tp: Any = model
    try:
        for key in loc:
            tp = _bare(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                tp = _fields(tp)[str(key)].annotation
            else:  # a list item or a dict value
                tp = get_args(tp)[-1]
    except (KeyError, IndexError):
        return []
    tp = _bare(tp)
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return []
    return list(_fields(tp))


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    # By the key a file uses: `continue`, not the attribute `continue_`.
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _bare(tp: Any) -> Any:
    # Annotated[X, ...] → X; X | None → X.
    while get_origin(tp) in (Annotated, Union, UnionType):
        tp = next(a for a in get_args(tp) if a is not type(None))
    return tp


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
