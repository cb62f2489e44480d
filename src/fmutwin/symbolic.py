"""The CasADi form of a step function: the same equations evaluated on symbols.

A step function ``step(ops, structure, p, x, u) -> (x_new, y)`` over named entries becomes a
CasADi ``Function(x, u, p) -> (x_new, y)`` on dense vectors, whose Jacobians and generated C
come from exactly the text the numpy twin runs. Parameters (including every table grid and
value) are inputs of the function, so one compiled function serves every parameter file of the
same structure.

Two symbolic forms come from the same text: SX (``kind="SX"``, every scalar an expression node;
tables through CasADi's parametric interpolant), the reference form for Jacobians and tests; and
MX (``kind="MX"``), the form generated C runs: tables are read in place in the parameter vector
(``fmutwin.ops.Block``) and what depends on the parameters alone (a table's cumulative integral)
goes to a second function ``derive(p) -> d``, evaluated once per parameter set, so the step is
``(x, u, p, d) -> (x_next, y)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from fmutwin.ops import Block, Derived, casadi_ops

StepFunction = Callable[..., tuple[dict[str, Any], dict[str, Any]]]


def _split(name: str) -> tuple[str, int | None]:
    """``soc[3]`` -> (``soc``, 3); ``soc`` -> (``soc``, None)."""
    if name.endswith("]") and "[" in name:
        base, index = name[:-1].split("[", 1)
        if index.isdigit():
            return base, int(index)
    return name, None


def grouped(names: Any, values: list[Any], stack: Callable[..., Any]) -> dict[str, Any]:
    """Flat entries by name, with ``base[0]``, ``base[1]``, ... stacked into one array ``base``
    (a module's cell arrays): how a flat state or input vector is presented to the equations."""
    out: dict[str, Any] = {}
    arrays: dict[str, list[Any]] = {}
    for name, value in zip(names, values):
        base, index = _split(name)
        if index is None:
            out[name] = value
        else:
            arrays.setdefault(base, []).append(value)
    out.update({base: stack(*items) for base, items in arrays.items()})
    return out


def entry(tree: dict[str, Any], name: str) -> Any:
    """The flat entry ``name`` (``base[k]``: element k of the array ``base``) of a grouped dict."""
    base, index = _split(name)
    return tree[name] if index is None else tree[base][index]


def _flattened(y: dict[str, Any]) -> dict[str, Any]:
    """Outputs with every array (more than one element) as entries ``key[0]``, ``key[1]``, ..."""
    out: dict[str, Any] = {}
    for key, value in y.items():
        size = value.size1() if hasattr(value, "size1") else 1
        if size > 1:
            out.update({f"{key}[{k}]": value[k] for k in range(size)})
        else:
            out[key] = value
    return out


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
        """A parameter tree of CasADi scalars cut from ``vector`` (nested lists for 2-D tables);
        for an MX ``vector``, arrays are :class:`~fmutwin.ops.Block` views into it."""
        import casadi as ca

        tree: dict[str, Any] = {}
        offset = 0
        for path, shape in zip(self.paths, self.shapes):
            n = int(np.prod(shape))
            if isinstance(vector, ca.MX):
                leaf: Any = vector[offset] if len(shape) == 0 else Block(vector, offset, tuple(shape))
                offset += n
                node = tree
                *parents, last = path.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[last] = leaf
                continue
            elems = [vector[offset + k] for k in range(n)]
            offset += n
            if len(shape) == 0:
                leaf = elems[0]
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

    function: Any  # casadi.Function (x, u, p) -> (x_new, y); MX form: (x, u, p, d) -> (x_new, y)
    state_names: tuple[str, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    layout: ParameterLayout
    derive: Any = None  # MX form: casadi.Function p -> d (parameter-only quantities of the step)

    def __call__(self, x: Any, u: Any, p_vec: Any) -> tuple[Any, Any]:
        """(x_next, y) at numeric x, u and packed parameters, in either form."""
        if self.derive is None:
            return self.function(x, u, p_vec)
        return self.function(x, u, p_vec, self.derive(p_vec))


def symbolic_step(step: StepFunction, structure: Any, p: dict[str, Any], state_names: list[str],
                  input_names: tuple[str, ...], name: str = "step", kind: str = "SX") -> SymbolicStep:
    """Evaluate ``step`` on CasADi symbols (``kind`` "SX" or "MX") shaped like ``p`` and wrap it
    as a Function; the MX form also gets ``derive`` (see the module docstring)."""
    import casadi as ca

    if kind not in ("SX", "MX"):
        raise ValueError(f"kind must be 'SX' or 'MX', not {kind!r}")
    sym_type = getattr(ca, kind)
    derived = Derived() if kind == "MX" else None
    ops = casadi_ops(derived)
    layout = ParameterLayout.of(p)
    xs = sym_type.sym("x", len(state_names))
    us = sym_type.sym("u", len(input_names))
    ps = sym_type.sym("p", layout.size)
    x = grouped(state_names, [xs[i] for i in range(len(state_names))], ca.vertcat)
    u = grouped(input_names, [us[i] for i in range(len(input_names))], ca.vertcat)
    x_new, y = step(ops, structure, layout.symbolic(ps), x, u)
    y_flat = _flattened(y)
    output_names = tuple(y_flat)
    x_vec = ca.densify(ca.vertcat(*[sym_type(entry(x_new, n)) for n in state_names]))
    y_vec = ca.densify(ca.vertcat(*[sym_type(y_flat[n]) for n in output_names]))
    if derived is None:
        fn = ca.Function(name, [xs, us, ps], [x_vec, y_vec], ["x", "u", "p"], ["x_next", "y"])
        return SymbolicStep(fn, tuple(state_names), tuple(input_names), output_names, layout)
    ds = ca.MX.sym("d", derived.size)
    d_exprs = ca.densify(ca.vertcat(*derived.expressions)) if derived.symbols else ca.MX(0, 1)
    if derived.symbols:  # one vector d in place of the collected symbols
        parts, offset = [], 0
        for s in derived.symbols:
            parts.append(ds[offset:offset + s.size1()])
            offset += s.size1()
        x_vec, y_vec = ca.substitute([x_vec, y_vec], derived.symbols, parts)
    fn = ca.Function(name, [xs, us, ps, ds], [x_vec, y_vec], ["x", "u", "p", "d"], ["x_next", "y"])
    derive = ca.Function(f"{name}_derive", [ps], [d_exprs], ["p"], ["d"])
    return SymbolicStep(fn, tuple(state_names), tuple(input_names), output_names, layout, derive)


def symbolic_initial_state(initial_state: Callable[..., dict[str, Any]], structure: Any, p: dict[str, Any],
                           state_names: list[str], name: str = "initial_state", kind: str = "SX") -> Any:
    """The CasADi ``Function(p) -> x0`` of an initial-state function ``initial_state(ops,
    structure, p) -> x0`` over ``ops`` (the same text the numpy twin runs)."""
    import casadi as ca

    sym_type = getattr(ca, kind)
    layout = ParameterLayout.of(p)
    ps = sym_type.sym("p", layout.size)
    x0 = initial_state(casadi_ops(), structure, layout.symbolic(ps))
    x_vec = ca.densify(ca.vertcat(*[sym_type(entry(x0, n)) for n in state_names]))
    return ca.Function(name, [ps], [x_vec], ["p"], ["x0"])


def input_dependencies(spec: Any) -> dict[str, tuple[str, ...]]:
    """For each declared output of a :class:`fmutwin.interface.EquationSpec`, the declared inputs it
    depends on directly: the structural sparsity of the step's outputs in its inputs (what may
    change an output at a given state when an input changes)."""
    sym = symbolic_step(spec.step, spec.structure, spec.p, list(spec.state_names), spec.input_names, kind="MX")
    rows, cols = sym.function.sparsity_jac(1, 1).get_triplet()  # d y / d u, structurally
    depends = {(sym.output_names[r], sym.input_names[c]) for r, c in zip(rows, cols)}

    def entries(var: Any, key: str, names: tuple[str, ...]) -> list[str]:  # an array's: key[0], key[1], ...
        return [f"{key}[{k}]" for k in range(var.size)] if f"{key}[0]" in names else [key]

    return {var.name: tuple(v.name for v, key_in in spec.inputs
                            if any((o, i) in depends for o in entries(var, key, sym.output_names)
                                   for i in entries(v, key_in, sym.input_names)))
            for var, key in spec.outputs}
