"""Base classes of the parameter models: strict, immutable and helpful about typos; a parameter
file reads, validates (naming every bad field) and writes itself as JSON."""

from __future__ import annotations

import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator


def _accepts_bool(annotation: Any) -> bool:
    """Whether a field's type admits ``True``/``False`` (pydantic would otherwise turn a bool into
    1.0 or 1 for a number field: ``nominal_capacity_As: true`` must be an error, not 1 As)."""
    if annotation is bool or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _accepts_bool(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_accepts_bool(a) for a in typing.get_args(annotation))
    return False  # numbers, strings, containers and nested models (which check their own fields)


def _holds_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, (list, tuple)) and any(_holds_bool(v) for v in value)


class StrictModel(BaseModel):
    """Rejects unknown keys (naming the closest valid ones), NaN, infinity and booleans given for
    numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False,
                              validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(cls.model_fields)
            for key in data:
                if key not in known:
                    close = difflib.get_close_matches(str(key), sorted(known), n=3, cutoff=0.5)
                    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                    raise ValueError(f"unknown key {key!r}{hint} (valid keys: {', '.join(sorted(known))})")
            for key, value in data.items():
                if _holds_bool(value) and not _accepts_bool(cls.model_fields[key].annotation):
                    raise ValueError(f"{key}: {value!r} is a boolean where a number is expected")
        return data


class ParameterError(ValueError):
    """A parameter file or value is invalid; the message names every offending field."""


def format_validation_error(exc: ValidationError, origin: str) -> str:
    """One line per problem: the dotted field path and pydantic's reason."""
    lines = [f"{origin}: {exc.error_count()} invalid field(s)"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-", "union")))
        msg = err["msg"].removeprefix("Value error, ")
        got = f" (got {err['input']!r})" if err["type"] not in ("missing", "value_error") and not isinstance(
            err.get("input"), (dict, list)) else ""
        lines.append(f"  {loc or '<top level>'}: {msg}{got}")
    return "\n".join(lines)


class ParameterFile(StrictModel):
    """A parameter set that is a file of its own: validated from a dict or a JSON file (raising
    :class:`ParameterError` that names every bad field; nothing is returned unless the whole file
    is valid) and written back as JSON."""

    @classmethod
    def from_dict(cls: type[P], data: object, origin: str = "parameters") -> P:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ParameterError(format_validation_error(exc, origin)) from None

    @classmethod
    def load(cls: type[P], path: str | Path) -> P:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ParameterError(f"{path}: not valid JSON: {exc}") from None
        return cls.from_dict(data, origin=str(path))

    def save(self, path: str | Path) -> None:
        """Write the set as JSON (readable back with :meth:`load`)."""
        Path(path).write_text(self.model_dump_json(indent=1, exclude_none=True) + "\n")


P = TypeVar("P", bound=ParameterFile)
