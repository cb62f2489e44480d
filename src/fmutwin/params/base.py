"""Base class of every parameter model: strict, immutable, and helpful about typos."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


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
