"""Input checks the numpy twins share: each raises :class:`fmutwin.interface.InputError` naming
the input, before anything is stepped (so a refused input leaves the twin's state as it was)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from fmutwin.interface import InputError


def finite_scalars(inputs: Mapping[str, Any]) -> dict[str, float]:
    """The inputs as floats; each must be one finite number."""
    for name, value in inputs.items():
        if np.ndim(value) != 0 or not np.isfinite(np.asarray(value, dtype=float)):
            raise InputError(f"input {name} = {value!r} is not a finite number")
    return {name: float(value) for name, value in inputs.items()}


def positive(inputs: Mapping[str, float], names: Iterable[str], unit: str = "") -> None:
    """Each named input must be > 0 (a step, an absolute temperature)."""
    for name in names:
        if not inputs[name] > 0:
            raise InputError(f"input {name} = {inputs[name]!r} must be > 0{unit}")


def non_negative(inputs: Mapping[str, float], names: Iterable[str]) -> None:
    for name in names:
        if inputs[name] < 0:
            raise InputError(f"input {name} = {inputs[name]!r} must be >= 0")


def switches(name: str, value: Any, n: int, what: str) -> np.ndarray:
    """One 0 or 1 per ``what`` (``n`` of them); None: all 0."""
    arr = np.zeros(n) if value is None else np.asarray(value, dtype=float).reshape(-1)
    if arr.shape != (n,) or not np.all(np.isin(arr, (0.0, 1.0))):
        raise InputError(f"input {name} = {value!r}: one 0 or 1 per {what} ({n})")
    return arr


def finite_array(name: str, value: Any, n: int, what: str) -> np.ndarray:
    """One finite value per ``what`` (``n`` of them); None: all 0."""
    arr = np.zeros(n) if value is None else np.asarray(value, dtype=float).reshape(-1)
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise InputError(f"input {name} = {value!r}: one finite value per {what} ({n})")
    return arr
