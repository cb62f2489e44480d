"""The CasADi form of a step function: the same equations evaluated on symbols.

A step function ``step(ops, structure, p, x, u) -> (x_new, y)`` over named entries becomes a
CasADi ``Function(x, u, p) -> (x_new, y)`` on dense vectors, whose Jacobians and generated C
come from exactly the text the numpy twin runs. Parameters (including every table grid and
value) are inputs of the function, so one compiled function serves every parameter file of the
same structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from fmutwin.ops import casadi_ops

StepFunction = Callable[..., tuple[dict[str, Any], dict[str, Any]]]


def _leaves(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, np.ndarray]]:
    """(path, array) of every numeric leaf of a parameter tree, in a fixed (sorted) order."""
    out: list[tuple[str, np.ndarray]] = []
    for key in sorted(tree):
        value = tree[key]
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _leaves(value, path + ".")
        else:
            out.append((path, np.asarray(value, dtype=float)))
    return out


@dataclass(frozen=True)
class ParameterLayout:
    """Where each parameter leaf sits in the flat parameter vector."""

    paths: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, p: dict[str, Any]) -> "ParameterLayout":
        leaves = _leaves(p)
        return cls(tuple(path for path, _ in leaves), tuple(a.shape for _, a in leaves))

    @property
    def size(self) -> int:
        return int(sum(int(np.prod(s)) for s in self.shapes))

    def pack(self, p: dict[str, Any]) -> np.ndarray:
        """Flatten numeric parameters (row-major for 2-D tables) into one vector."""
        leaves = dict(_leaves(p))
        parts = []
        for path, shape in zip(self.paths, self.shapes):
            if leaves[path].shape != shape:
                raise ValueError(f"parameter {path}: shape {leaves[path].shape}, layout expects {shape}")
            parts.append(leaves[path].ravel())
        return np.concatenate(parts) if parts else np.zeros(0)

    def symbolic(self, vector: Any) -> dict[str, Any]:
        """A parameter tree of CasADi scalars cut from ``vector`` (nested lists for 2-D tables)."""
        tree: dict[str, Any] = {}
        offset = 0
        for path, shape in zip(self.paths, self.shapes):
            n = int(np.prod(shape))
            elems = [vector[offset + k] for k in range(n)]
            offset += n
            if len(shape) == 0:
                leaf: Any = elems[0]
            elif len(shape) == 1:
                leaf = elems
            else:
                leaf = [elems[r * shape[1]:(r + 1) * shape[1]] for r in range(shape[0])]
            node = tree
            *parents, last = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = leaf
        return tree


@dataclass(frozen=True)
class SymbolicStep:
    """A CasADi step function with the names of its vector entries."""

    function: Any  # casadi.Function (x, u, p) -> (x_new, y)
    state_names: tuple[str, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    layout: ParameterLayout


def symbolic_step(step: StepFunction, structure: Any, p: dict[str, Any], state_names: list[str],
                  input_names: tuple[str, ...], name: str = "step") -> SymbolicStep:
    """Evaluate ``step`` on CasADi SX symbols shaped like ``p`` and wrap it as a Function."""
    import casadi as ca

    ops = casadi_ops()
    layout = ParameterLayout.of(p)
    xs = ca.SX.sym("x", len(state_names))
    us = ca.SX.sym("u", len(input_names))
    ps = ca.SX.sym("p", layout.size)
    x = {n: xs[i] for i, n in enumerate(state_names)}
    u = {n: us[i] for i, n in enumerate(input_names)}
    x_new, y = step(ops, structure, layout.symbolic(ps), x, u)
    output_names = tuple(y)
    x_vec = ca.densify(ca.vertcat(*[ca.SX(x_new[n]) for n in state_names]))
    y_vec = ca.densify(ca.vertcat(*[ca.SX(y[n]) for n in output_names]))
    fn = ca.Function(name, [xs, us, ps], [x_vec, y_vec], ["x", "u", "p"], ["x_next", "y"])
    return SymbolicStep(fn, tuple(state_names), tuple(input_names), output_names, layout)
