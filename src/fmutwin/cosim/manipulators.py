"""Manipulators: what the master does to inputs, apart from the connections.

At the start of every macro step each manipulator gives values for the inputs it targets; they
replace whatever a connection brought (an override wins over a connection). :class:`InputSource`
plays a time series (held or interpolated), :class:`Override` forces a value over a time window,
:class:`Event` fires once, at a time or when a signal crosses a value, and from then on forces
its inputs (fail the coolant pump: ``thermal.coolantFlow`` = 0) and/or sets tunable parameters.
"""

from __future__ import annotations

import csv
import operator
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np


class Manipulator:
    """Base: ``targets`` are endpoints of inputs (``bms.chargerConnected``, ``module1.bleed[3]``)."""

    def __init__(self, targets: Sequence[str]) -> None:
        self.targets = list(targets)

    def bind(self, execution: Any) -> None:
        self._execution = execution

    def values(self, time_s: float) -> dict[str, Any] | None:
        """{target: value (a scalar, or one value per element of the target's range)} at ``time_s``;
        None: nothing forced this step."""
        raise NotImplementedError


class InputSource(Manipulator):
    """A time series into one input: ``time_s`` increasing, ``values`` one per time;
    ``interpolation`` "hold" (value k from t_k until t_k+1, as sampled data) or "linear"
    (interpolated at the step's start); before the first time the first value, after the last
    the last. ``scale`` and ``offset`` apply to every value (``value * scale + offset``)."""

    def __init__(self, target: str, time_s: Sequence[float], values: Sequence[float], interpolation: str = "hold",
                 scale: float = 1.0, offset: float = 0.0) -> None:
        super().__init__([target])
        self.time_s = np.asarray(time_s, dtype=float)
        self.data = np.asarray(values, dtype=float) * scale + offset
        if self.time_s.ndim != 1 or self.time_s.shape != self.data.shape[:1] or len(self.time_s) == 0:
            raise ValueError(f"input source for {target}: {len(self.time_s)} times for {len(self.data)} values")
        if np.any(np.diff(self.time_s) <= 0) or not np.all(np.isfinite(self.time_s)):
            raise ValueError(f"input source for {target}: times must be finite and increasing")
        if not np.all(np.isfinite(self.data)):
            bad = int(np.argmax(~np.isfinite(self.data)))
            raise ValueError(f"input source for {target}: value {bad} (t = {self.time_s[bad]:g} s) is not finite")
        if interpolation not in ("hold", "linear"):
            raise ValueError(f"input source for {target}: interpolation {interpolation!r} is 'hold' or 'linear'")
        self.interpolation = interpolation

    @classmethod
    def from_csv(cls, target: str, path: str | Path, column: str | int = 1, time_column: str | int = 0,
                 **kw: Any) -> "InputSource":
        """From a CSV file (lines starting with ``#`` skipped); columns by header name or index."""
        path = Path(path)
        try:
            with open(path, newline="") as f:
                rows = [(n, r) for n, r in enumerate(csv.reader(f), start=1)
                        if r and not r[0].lstrip().startswith("#")]
        except OSError as exc:
            raise ValueError(f"{path}: {exc}") from None
        header = [h.strip() for h in rows[0][1]] if rows and any(not _is_number(x) for x in rows[0][1]) else None
        body = rows[1:] if header else rows
        if not body:
            raise ValueError(f"{path}: no data rows")

        def col(c: str | int) -> int:
            if isinstance(c, int):
                return c
            if header is None or c not in header:
                raise ValueError(f"{path}: no column {c!r} (columns: {header})")
            return header.index(c)

        i_t, i_v = col(time_column), col(column)
        data = []
        for line, r in body:
            try:
                data.append((float(r[i_t]), float(r[i_v])))
            except (ValueError, IndexError):
                raise ValueError(f"{path}:{line}: {r!r} has no number in columns {time_column!r} and {column!r}") from None
        array = np.array(data)
        try:
            return cls(target, array[:, 0], array[:, 1], **kw)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def values(self, time_s: float) -> dict[str, Any]:
        if self.interpolation == "linear":
            return {self.targets[0]: float(np.interp(time_s, self.time_s, self.data))}
        k = int(np.searchsorted(self.time_s, time_s + 1e-9 * max(1.0, abs(time_s)), side="right")) - 1
        return {self.targets[0]: float(self.data[max(k, 0)])}


def _finite(value: Any, what: str) -> Any:
    """A forced value as a float (or an array of floats), refused unless finite."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {value!r} is not a number") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: {value!r} is not finite")
    return float(array) if array.ndim == 0 else array


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


class Override(Manipulator):
    """Force ``target`` to ``value`` from ``start_s`` (inclusive) until ``stop_s`` (exclusive)."""

    def __init__(self, target: str, value: Any, start_s: float = -np.inf, stop_s: float = np.inf) -> None:
        super().__init__([target])
        self.value = _finite(value, f"override of {target}")
        self.start_s, self.stop_s = float(start_s), float(stop_s)

    def values(self, time_s: float) -> dict[str, Any] | None:
        return {self.targets[0]: self.value} if self.start_s <= time_s < self.stop_s else None


_OPS: dict[str, Callable[[float, float], bool]] = {">": operator.gt, ">=": operator.ge, "<": operator.lt,
                                                   "<=": operator.le}


class Event(Manipulator):
    """Fires once: at ``time_s``, or at the first communication point where ``when`` =
    (signal endpoint, ">" | ">=" | "<" | "<=", value) holds. From then on ``inputs`` {endpoint: value}
    are forced; ``parameters`` {endpoint: value} are set once (tunable parameters, which the FMU
    must accept in step mode). ``fired_at`` is the time it fired (None before)."""

    def __init__(self, inputs: dict[str, Any] | None = None, parameters: dict[str, Any] | None = None,
                 time_s: float | None = None, when: tuple[str, str, float] | None = None, name: str = "event") -> None:
        if (time_s is None) == (when is None):
            raise ValueError(f"{name}: give a time or a condition (not both)")
        if when is not None and when[1] not in _OPS:
            raise ValueError(f"{name}: condition operator {when[1]!r} is not one of {', '.join(_OPS)}")
        self.inputs = {k: _finite(v, f"{name}: {k}") for k, v in (inputs or {}).items()}
        self.parameters = dict(parameters or {})
        if not self.inputs and not self.parameters:
            raise ValueError(f"{name}: an event sets at least one input or parameter")
        super().__init__(list(self.inputs))
        self.time_s, self.when, self.name = time_s, when, name
        self.fired_at: float | None = None

    def bind(self, execution: Any) -> None:
        super().bind(execution)
        if self.when is not None:
            self._probe = execution.probe(self.when[0])

    def values(self, time_s: float) -> dict[str, Any] | None:
        if self.fired_at is None and self._due(time_s):
            self.fired_at = time_s
            if self.parameters:
                self._execution.set_parameters(self.parameters)
        return self.inputs if self.fired_at is not None and self.inputs else None

    def _due(self, time_s: float) -> bool:
        if self.time_s is not None:
            return time_s >= self.time_s - 1e-9 * max(1.0, abs(self.time_s))
        return _OPS[self.when[1]](self._probe(), float(self.when[2]))
