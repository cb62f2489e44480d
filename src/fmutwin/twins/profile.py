"""Running a twin over a profile: the one stepping loop every twin and the reduction's
validation use.

A profile is a time grid ``time_s`` (k = 0..n) with inputs held over each interval
``[t_k, t_k+1]``: ``profile`` inputs give one value per interval (their first axis, of length n
or n+1, the last value then unused), ``held`` inputs one value for the whole run. A step returns
a dict of arrays (one entry per cell); the run stacks them over the steps and drops a cell axis
of length one, so a single cell gives 1-D arrays over the profile.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from fmutwin.interface import InputError, StateError

Step = Callable[..., Mapping[str, Any]]


def run_profile(step: Step, time_s: Any, profile: Mapping[str, Any],
                held: Mapping[str, Any] | None = None, progress: Callable[[int], Any] | None = None
                ) -> dict[str, np.ndarray]:
    """``step(dt_s=..., **inputs)`` for each interval of ``time_s``; the outputs at ``time_s[1:]``.

    Returns every output stacked over the steps plus ``time_s`` (the end of each step). A failure
    part-way (:class:`InputError`, :class:`StateError`) is re-raised with the results recorded up
    to it in ``exc.partial`` (same keys, as many rows as steps completed). ``progress(1)`` is
    called after each step (a progress bar's ``update``).
    """
    time_s = np.asarray(time_s, dtype=float)
    n = len(time_s) - 1
    series = {name: np.asarray(values, dtype=float) for name, values in profile.items()}
    for name, values in series.items():
        if values.ndim == 0 or values.shape[0] < n:
            raise InputError(f"profile input {name}: {values.shape[0] if values.ndim else 1} values for "
                             f"{n} steps of time_s")
    rows: list[Mapping[str, Any]] = []
    try:
        for k in range(n):
            rows.append(step(dt_s=float(time_s[k + 1] - time_s[k]),
                             **{name: values[k] for name, values in series.items()}, **(held or {})))
            if progress is not None:
                progress(1)
    except (InputError, StateError) as exc:
        exc.partial = _stack(time_s[1:len(rows) + 1], rows)  # type: ignore[attr-defined]
        raise
    return _stack(time_s[1:], rows)


def _stack(time_s: np.ndarray, rows: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    out = {"time_s": np.asarray(time_s)}
    if rows:
        for key in rows[0]:
            if key == "time_s":
                continue
            stacked = np.array([np.asarray(r[key], dtype=float) for r in rows])
            out[key] = stacked[:, 0] if stacked.ndim == 2 and stacked.shape[1] == 1 else stacked
    return out
