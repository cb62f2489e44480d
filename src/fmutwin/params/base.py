"""Base class of every parameter model: strict, immutable, and helpful about typos."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class StrictModel(BaseModel):
    """Rejects unknown keys (naming the closest valid ones), NaN and infinity."""

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
        return data
