"""Co-simulation algorithms: how one macro step of the system is taken, given the execution's
operations (``feed(c, t)``: connections and manipulators into component c's inputs; ``advance(c,
t, h)``: write inputs, step, read outputs).

- :class:`Jacobi`: every component steps from the outputs at the step's start.
- :class:`GaussSeidel`: components step in order, each from the latest outputs (those already
  stepped give their end-of-step values).
- :class:`Iterated`: the step repeated with rollback until the coupled values converge: every
  FMU's state is saved, a Gauss-Seidel sweep taken, and if any connected input would now get a
  different value than it stepped with (beyond ``tolerance * (1 + |value|)``) every state is
  restored and the sweep repeated from the new values; the fixed point has no coupling lag.
  ``group`` limits the iteration to the strongly coupled components (the others step once, in
  order, before or after it).

A component with ``step_multiple`` k steps every k-th macro step over k steps, or to the stop
time if that is nearer (its outputs are held in between); the iterated algorithm needs k = 1 for
the components it iterates, and that they can get and set their FMU state.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


class CouplingError(RuntimeError):
    """The iterated coupling did not converge: names the input with the largest change."""


class Jacobi:
    name = "jacobi"

    def check(self, ex: Any) -> None:
        """Nothing to check before the run."""

    def step(self, ex: Any, n: int, t: float, h: float) -> None:
        due = [c for c in ex.order if n % ex.multiple[c] == 0]
        for c in due:
            ex.feed(c, t)
        for c in due:
            ex.advance(c, t, ex.step_length(c, t, h), read=False)
        for c in due:
            ex.read(c)


class GaussSeidel:
    name = "gauss-seidel"

    def check(self, ex: Any) -> None:
        """Nothing to check before the run."""

    def step(self, ex: Any, n: int, t: float, h: float) -> None:
        for c in ex.order:
            if n % ex.multiple[c] == 0:
                ex.feed(c, t)
                ex.advance(c, t, ex.step_length(c, t, h))


class Iterated:
    """Gauss-Seidel sweeps with rollback until converged (``tolerance``, at most ``max_iterations``
    sweeps; then a :class:`CouplingError`)."""

    name = "iterated"

    def __init__(self, tolerance: float = 1e-10, max_iterations: int = 30, group: Sequence[str] | None = None) -> None:
        if not tolerance > 0 or max_iterations < 1:
            raise ValueError("iterated coupling: tolerance > 0 and max_iterations >= 1")
        self.tolerance, self.max_iterations = float(tolerance), int(max_iterations)
        self.group = None if group is None else list(group)
        self.iterations: list[int] = []

    def check(self, ex: Any) -> None:
        """Before the run: the group names components, next to each other in the order, that step
        every macro step and can save and restore their state."""
        unknown = sorted(set(self.group or ()) - set(ex.order))
        if unknown:
            raise ValueError(f"iterated coupling: no component {', '.join(map(repr, unknown))} in the system")
        group = [c for c in ex.order if self.group is None or c in self.group]
        first, last = ex.order.index(group[0]), ex.order.index(group[-1])
        inside = [c for c in ex.order[first:last + 1] if c not in group]
        if inside:
            raise ValueError(f"iterated coupling: {', '.join(inside)} sit(s) inside the iterated group in the order; "
                             "put the group's members next to each other")
        for c in group:
            if ex.multiple[c] != 1:
                raise ValueError(f"iterated coupling: component {c!r} has step_multiple {ex.multiple[c]}; "
                                 "iterated components step every macro step")
            if not ex.components[c].can_rollback:
                raise ValueError(f"iterated coupling: component {c!r} cannot get and set its FMU state "
                                 "(canGetAndSetFMUstate is false); iterate only components that can")
        self._group, self._before, self._after = group, ex.order[:first], ex.order[last + 1:]

    def step(self, ex: Any, n: int, t: float, h: float) -> None:
        for part in (self._before, None, self._after):
            if part is None:
                self._iterate(ex, self._group, t, h)
                continue
            for c in part:
                if n % ex.multiple[c] == 0:
                    ex.feed(c, t)
                    ex.advance(c, t, ex.step_length(c, t, h))

    def _iterate(self, ex: Any, group: list[str], t: float, h: float) -> None:
        for c in group:
            ex.save(c)
        used: dict[str, np.ndarray] = {}
        for k in range(1, self.max_iterations + 1):
            for c in group:
                used[c] = ex.feed(c, t).copy()
                ex.advance(c, t, h, rollback=True)
            worst, where = 0.0, ""
            for c in group:
                now = ex.feed(c, t)
                change, i = largest_change(now, used[c])
                if change == np.inf:
                    raise CouplingError(f"iterated coupling at t = {t:g} s: {c}.{ex.input_name(c, i)} became "
                                        f"{now[i]!r} in sweep {k}")
                if change > worst:
                    worst, where = change, f"{c}.{ex.input_name(c, i)}"
            if worst <= self.tolerance:
                self.iterations.append(k)
                return
            if k < self.max_iterations:
                for c in group:
                    ex.restore(c, t)
        raise CouplingError(f"iterated coupling did not converge at t = {t:g} s in {self.max_iterations} sweeps: "
                            f"{where} still changes by {worst:.3g} (relative; tolerance {self.tolerance:g})")


def largest_change(now: np.ndarray, before: np.ndarray) -> tuple[float, int]:
    """The largest change of a component's inputs between two sweeps, ``|now - before| / (1 +
    |now|)``, and its index (0.0, -1 for no inputs); inf at the first input that is not finite.
    The convergence measure of the iterated coupling and of the iterated initialisation."""
    if not now.size:
        return 0.0, -1
    change = np.abs(now - before) / (1.0 + np.abs(now))
    change[~np.isfinite(change)] = np.inf
    i = int(np.argmax(change))
    return float(change[i]), i


ALGORITHMS = {"jacobi": Jacobi, "gauss-seidel": GaussSeidel, "iterated": Iterated}


def make_algorithm(name: str, **options: Any) -> Any:
    """The algorithm named ``name`` (jacobi, gauss-seidel, iterated) with its options."""
    try:
        cls = ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; one of {', '.join(ALGORITHMS)}") from None
    return cls(**options) if options else cls()
