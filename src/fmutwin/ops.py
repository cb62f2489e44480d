"""The small math namespace every model equation is written over.

Model code (``fmutwin.equations``) never imports numpy, math or casadi: it receives an ``ops``
object and calls ``ops.exp``, ``ops.where``, ``ops.interp1`` ... so that the same text runs

* on numpy arrays (:data:`NUMPY`), vectorised over cells: every state may be an array with one
  entry per cell, so one call steps a whole module; and
* on CasADi symbols (:func:`casadi_ops`), which gives Jacobians and generated C from the very same
  equations.

``math.exp`` of a CasADi symbol silently returns nan and a Python ``if`` on a symbolic state
cannot branch, which is why model code may use nothing but this namespace.

Table lookup is part of the namespace because the two libraries disagree on it: CasADi's linear
interpolant extrapolates linearly while ``numpy.interp`` clamps. Both backends implement the
three extrapolation modes the same way around their own linear kernel (numpy: binary search and
the segment formula; CasADi SX: its parametric linear interpolant, whose grid and values are
function inputs; CasADi MX, used for generated C: CasADi's ``low`` segment search and a lookup of
the segment's two points straight in the parameter vector (:class:`Block`), so generated code
neither copies a table nor visits every grid point):

``nearest``
    the argument is clamped to the grid (the edge value is held);
``linear``
    the first/last segment is extended;
``error``
    numpy raises :class:`TableRangeError` naming the table and the value; CasADi (which cannot
    raise on a symbol) returns NaN, which the generated-code shell reports as an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import numpy as np

Extrapolation = Literal["nearest", "linear", "error"]
EXTRAPOLATION_MODES: tuple[str, ...] = ("nearest", "linear", "error")


class TableRangeError(ValueError):
    """A table with ``extrapolation="error"`` was evaluated outside its grid."""


@dataclass(frozen=True)
class Ops:
    """A backend: elementwise functions plus table lookup.

    Attributes mirror the functions model code may call. ``interp1`` and ``interp2`` take the
    grid(s) and values as arguments (they may be symbols in the CasADi backend, so one generated
    binary serves every parameter file).
    """

    name: str
    exp: Callable[[Any], Any]
    expm1: Callable[[Any], Any]
    log: Callable[[Any], Any]
    log1p: Callable[[Any], Any]
    sqrt: Callable[[Any], Any]
    where: Callable[[Any, Any, Any], Any]
    fmin: Callable[[Any, Any], Any]
    fmax: Callable[[Any, Any], Any]
    sign: Callable[[Any], Any]
    fabs: Callable[[Any], Any]
    power: Callable[[Any, Any], Any]
    _interp1: Callable[[Any, Any, Any], Any]
    _interp2: Callable[[Any, Any, Any, Any, Any], Any]
    _kink_sum: Callable[[Any, Any, Any, Any], Any]
    nan: Any = float("nan")
    # CasADi MX only: where mean1 keeps quantities that depend on the parameters alone (a table's
    # cumulative integral), so that generated code computes them once per parameter set
    derived: Any = None

    def clip(self, x: Any, lo: Any, hi: Any) -> Any:
        """``x`` limited to ``[lo, hi]``."""
        return self.fmin(self.fmax(x, lo), hi)

    def asinh(self, x: Any) -> Any:
        """Inverse hyperbolic sine from log1p and sqrt (the primitives every backend and the
        generated C have), accurate for small and large |x|."""
        a = self.fabs(x)
        return self.sign(x) * self.log1p(a + a * a / (1.0 + self.sqrt(1.0 + a * a)))

    def safe_div(self, num: Any, den: Any, tiny: float = 1e-300) -> Any:
        """``num/den`` with ``den`` kept away from zero (for branches that ``where`` discards)."""
        return num / self.where(self.fabs(den) > tiny, den, tiny)

    def phi1(self, z: Any) -> Any:
        """``(1 - exp(-z)) / z``, exact and finite at ``z = 0`` (exponential integrators)."""
        small = self.fabs(z) < 1e-8
        z_safe = self.where(small, 1.0, z)
        return self.where(small, 1.0 - 0.5 * z, -self.expm1(-z_safe) / z_safe)

    def _extrapolate(self, x: Any, grid: Sequence[Any], mode: Extrapolation, name: str) -> tuple[Any, Any]:
        """Apply the extrapolation mode to ``x``; return (argument to interpolate, out-of-range mask)."""
        lo, hi = grid[0], grid[-1]
        if mode == "nearest":
            return self.clip(x, lo, hi), None
        outside = (x < lo) + (x > hi) if self.name == "casadi" else (x < lo) | (x > hi)
        if mode == "linear":
            return x, outside
        if mode == "error":
            if self.name == "numpy" and np.any(outside):
                bad = np.asarray(x)[np.asarray(outside)].ravel()[0]
                raise TableRangeError(
                    f"table '{name}': argument {bad!r} outside its grid [{lo}, {hi}] "
                    f"and extrapolation is 'error'"
                )
            return x, outside
        raise ValueError(f"table '{name}': unknown extrapolation {mode!r}; use one of {EXTRAPOLATION_MODES}")

    def interp1(self, x: Any, grid: Sequence[Any], values: Sequence[Any], mode: Extrapolation = "nearest",
                name: str = "table") -> Any:
        """Piecewise-linear ``values`` over the strictly increasing ``grid``, evaluated at ``x``."""
        if len(grid) == 1:
            return values[0] + 0.0 * x
        xe, outside = self._extrapolate(x, grid, mode, name)
        y = self._interp1(xe, grid, values)
        if mode == "error" and self.name == "casadi":
            y = self.where(outside, self.nan, y)
        return y

    def mean1(self, a: Any, b: Any, grid: Sequence[Any], values: Sequence[Any], mode: Extrapolation = "nearest",
              name: str = "table") -> Any:
        """Exact mean of the extrapolated piecewise-linear table over [a, b] (either order).

        Trapezoid of the end values, corrected at every kink k between a and b by
        -jump_k (b - g_k)(g_k - a) / (2 |b - a|); this form stays accurate when b - a is tiny
        (a step's SOC change) and equals the table value when a == b. ``nearest`` adds the
        kinks where the table meets its held edge values. On CasADi MX symbols (generated C) the
        same mean comes from the table's cumulative integral with O(1) work: :func:`_mx_mean1`.
        """
        if len(grid) == 1:
            return values[0] + 0.0 * a
        if self.name == "casadi" and _is_mx(a, b):
            self._extrapolate(a, grid, mode, name)  # checks the mode
            return _mx_mean1(self, a, b, grid, values, mode)
        ends = 0.5 * (self.interp1(a, grid, values, mode, name) + self.interp1(b, grid, values, mode, name))
        knots, jumps = self._kinks(grid, values, mode == "nearest")
        if not len(knots):
            return ends
        kinks = self._kink_sum(a, b, knots, jumps)
        return ends - self.safe_div(kinks, 2.0 * self.fabs(b - a))

    def slope1(self, x: Any, grid: Sequence[Any], values: Sequence[Any], mode: Extrapolation = "nearest",
               name: str = "table") -> Any:
        """d/dx of the extrapolated piecewise-linear table at ``x``: the slope of the segment that
        holds ``x`` (the right-hand one at a breakpoint); outside the grid the edge segment's
        (``linear``, ``error``) or 0 (``nearest``, where the table is held)."""
        if len(grid) == 1:
            return 0.0 * x
        if self.name == "numpy":
            i, _ = _segment(x, grid)
            g, v = np.asarray(grid, dtype=float), np.asarray(values, dtype=float)
            slope = (v[i + 1] - v[i]) / (g[i + 1] - g[i])
        elif _is_mx(x):
            i, gv, go, _ = _mx_point(x, grid, len(grid))
            vv, vo = _mx_vector(values)
            slope = (vv[(vo + 1) + i] - vv[vo + i]) / (gv[(go + 1) + i] - gv[go + i])
        else:  # CasADi SX has no segment search: select the segment with a chain of comparisons
            slope = (values[1] - values[0]) / (grid[1] - grid[0]) + 0.0 * x
            for k in range(1, len(grid) - 1):
                slope = self.where(x >= grid[k], (values[k + 1] - values[k]) / (grid[k + 1] - grid[k]), slope)
        if mode == "nearest":
            slope = self.where((x < grid[0]) + (x > grid[-1]) if self.name == "casadi" else
                               (np.asarray(x) < grid[0]) | (np.asarray(x) > grid[-1]), 0.0 * slope, slope)
        return slope

    # ---- cell arrays: one value per cell (numpy: a 1-D array; CasADi: a column vector) ----------
    def cell_array(self, values: Sequence[Any]) -> Any:
        """A cell array from one value per cell."""
        if self.name == "numpy":
            return np.array(values, dtype=float)
        import casadi as ca

        return ca.vertcat(*values)

    def as_cells(self, values: Any) -> Any:
        """A per-cell parameter (a numpy array, or on CasADi symbols a list or in-place Block) as a
        cell array."""
        if self.name == "numpy":
            return np.asarray(values, dtype=float)
        if isinstance(values, (list, tuple, Block)):
            return self.cell_array(list(values))
        return values

    def cell(self, values: Any, k: int) -> Any:
        """Entry ``k`` of a cell array."""
        return values[k]

    def total(self, values: Any) -> Any:
        """Sum over the cells."""
        if self.name == "numpy":
            return np.sum(values)
        import casadi as ca

        return ca.sum1(values)

    def smallest(self, values: Any) -> Any:
        if self.name == "numpy":
            return np.min(values)
        import casadi as ca

        return ca.mmin(values)

    def largest(self, values: Any) -> Any:
        if self.name == "numpy":
            return np.max(values)
        import casadi as ca

        return ca.mmax(values)

    def median(self, values: Any) -> Any:
        """The median of a cell array (the mean of the middle two for an even count); on CasADi
        symbols through an odd-even transposition sort of fmin/fmax (n passes: for the few
        dozen values of a pack's elements)."""
        if self.name == "numpy":
            return np.median(values)
        items = [values[k] for k in range(values.size1())]
        n = len(items)
        for sweep in range(n):
            for k in range(sweep % 2, n - 1, 2):
                items[k], items[k + 1] = self.fmin(items[k], items[k + 1]), self.fmax(items[k], items[k + 1])
        return items[n // 2] if n % 2 else 0.5 * (items[n // 2 - 1] + items[n // 2])

    def group_sums(self, values: Any, n_groups: int, size: int) -> Any:
        """Sums over consecutive groups of ``size`` cells (cell c = group * size + position)."""
        if self.name == "numpy":
            return np.reshape(values, (n_groups, size)).sum(axis=1)
        return self.cell_array([self.total(values[g * size:(g + 1) * size]) for g in range(n_groups)])

    def group_members(self, values: Any, n_groups: int, size: int) -> list[Any]:
        """The cells at each position of every group: a list over the positions of arrays over the
        groups (the inverse of :meth:`from_members`)."""
        if self.name == "numpy":
            return list(np.reshape(values, (n_groups, size)).T)
        return [self.cell_array([values[g * size + position] for g in range(n_groups)]) for position in range(size)]

    def repeat_groups(self, group_values: Any, n_groups: int, size: int) -> Any:
        """An array over groups spread to their cells."""
        if self.name == "numpy":
            return np.repeat(np.asarray(group_values, dtype=float) + np.zeros(n_groups), size)
        return self.cell_array([group_values[g] for g in range(n_groups) for _ in range(size)])

    def from_members(self, members: Sequence[Any], n_groups: int) -> Any:
        """The cell array whose group members are ``members[position]`` (arrays over the groups)."""
        if self.name == "numpy":
            out = np.empty((n_groups, len(members)))
            for j, m in enumerate(members):
                out[:, j] = m
            return out.ravel()
        return self.cell_array([members[j][g] for g in range(n_groups) for j in range(len(members))])

    def linearise(self, fn: Callable[["Ops", list[Any], dict[str, Any]], list[Any]], x: list[Any],
                  args: dict[str, Any]) -> tuple[list[Any], list[list[Any]]]:
        """``fn(ops, x, args)`` (a list of outputs) and its Jacobian in ``x``, ``J[i][k]`` =
        d out_i / d x_k, by CasADi's automatic differentiation, never by hand: on CasADi symbols
        directly; in numpy from an SX Function of ``fn`` made once (per ``fn`` object, whose
        closure's numbers it holds as constants) and evaluated over the cells or elements of
        ``x`` and ``args`` (arrays, or numbers shared by all)."""
        import casadi as ca

        if self.name != "numpy":
            return _casadi_linearise(self, fn, x, args)
        names = sorted(args)
        cached = getattr(fn, "_linearised", None)
        if cached is None or cached[0] != (len(x), tuple(names)):
            xs = [ca.SX.sym(f"x{k}") for k in range(len(x))]
            arg_syms = {name: ca.SX.sym(name) for name in names}
            out = ca.vertcat(*fn(casadi_ops(), xs, arg_syms))
            function = _compiled(ca.Function("linearised", xs + [arg_syms[n] for n in names],
                                             [out, ca.densify(ca.jacobian(out, ca.vertcat(*xs)))]))
            fn._linearised = cached = ((len(x), tuple(names)), function, {})  # type: ignore[attr-defined]
        function, maps = cached[1], cached[2]
        inputs = [np.asarray(v, dtype=float) for v in (*x, *(args[n] for n in names))]
        shape = np.broadcast_shapes(*(v.shape for v in inputs))
        count = int(np.prod(shape))
        rows = [np.broadcast_to(v, shape).reshape(1, count) for v in inputs]
        if count not in maps:
            maps[count] = function.map(count)
        out, jac = maps[count](*rows)
        out, jac = np.asarray(out), np.asarray(jac)  # (outputs, count), (outputs, inputs x count)
        n_out, n_x = out.shape[0], len(x)
        values = [out[i].reshape(shape) for i in range(n_out)]
        return values, [[jac[i, k::n_x].reshape(shape) for k in range(n_x)] for i in range(n_out)]

    def call(self, function: Any, *args: Any) -> list[Any]:
        """A CasADi Function (e.g. a model PyBaMM exported, or an integration step of it) on ops
        values: on symbols it is a node of the expression (one call in generated C), on numbers
        its results are flat numpy arrays."""
        if self.name == "numpy":
            return [np.asarray(r, dtype=float).ravel() for r in function.call([np.asarray(a, dtype=float)
                                                                              for a in args])]
        return list(function.call(list(args)))

    def map_cells(self, fn: Callable[[dict[str, Any]], Any], n: int, cells: dict[str, Any]) -> Any:
        """``fn`` of each cell: numpy calls it once on the arrays (vectorised); on CasADi symbols
        ``fn`` is evaluated once, on scalar symbols, as a CasADi Function that is then called for
        each cell (generated C: one function body, called per cell), its results (nested dicts
        and lists) stacked into cell arrays. ``cells`` holds cell arrays, or nested dicts and lists of them,
        and scalars shared by every cell; ``fn`` reads parameters, tables and the step's inputs from
        its closure, but a value the step computed from the cells belongs in ``cells`` (read from
        the closure, generated code would recompute it, from every cell, inside each cell's call)."""
        if self.name == "numpy":
            return fn(cells)
        return _casadi_map_cells(fn, n, cells)

    @staticmethod
    def solve_small(a: list[list[Any]], b: list[Any]) -> list[Any]:
        """x with a x = b for a small system given as lists; the entries may be numbers, numpy
        arrays (many systems at once, elementwise: LAPACK's batched solve) or symbols (Gaussian
        elimination without pivoting, written out: for systems whose pivots are never zero, e.g.
        diagonally dominant ones)."""
        n = len(b)
        entries = [*b, *(v for row in a for v in row)]
        if n > 2 and not any(map(_is_symbolic, entries)):
            # numbers and numpy arrays: LAPACK (partial pivoting), every system at once
            shape = np.broadcast_shapes(*{getattr(v, "shape", ()) for v in entries})
            matrix, rhs = np.empty((*shape, n, n)), np.empty((*shape, n, 1))
            for r, row in enumerate(a):
                rhs[..., r, 0] = b[r]
                for c, v in enumerate(row):
                    matrix[..., r, c] = v
            try:
                solved = np.linalg.solve(matrix, rhs)[..., 0]
                return [solved[..., i] for i in range(n)]
            except np.linalg.LinAlgError:
                pass  # a singular system: the elimination below gives its inf/NaN, which callers report
        a = [row[:] for row in a]
        b = b[:]
        for i in range(n):
            for r in range(i + 1, n):
                factor = a[r][i] / a[i][i]
                for c in range(i + 1, n):
                    a[r][c] = a[r][c] - factor * a[i][c]
                b[r] = b[r] - factor * b[i]
        x: list[Any] = [0.0] * n
        for i in reversed(range(n)):
            total = b[i]
            for c in range(i + 1, n):
                total = total - a[i][c] * x[c]
            x[i] = total / a[i][i]
        return x

    def converged(self, residuals: Sequence[Any], tolerance: float) -> Any:
        """Whether an iteration may stop, every residual below ``tolerance``: a bool in numpy, a
        0/1 symbol on CasADi (for :meth:`unless`)."""
        if self.name == "numpy":
            return all(float(np.max(np.abs(r))) < tolerance for r in residuals)
        import casadi as ca

        kind = ca.MX if _is_mx(*residuals) else ca.SX
        return ca.mmax(ca.fabs(ca.vertcat(*[ca.vec(kind(r)) for r in residuals]))) < tolerance

    def unless(self, done: Any, kept: Any, update: Callable[[Any, Any], Any], context: Any) -> Any:
        """``kept`` if ``done``, else ``update(kept, context)`` (a tree of dicts and lists shaped
        like ``kept``; ``context``: a tree of everything else it reads but parameters and the
        step's inputs). numpy decides in Python. On CasADi MX ``update`` becomes a Function of
        the two trees' leaves, called through a switch, so generated code evaluates it only
        when needed (CasADi's own short-circuit ``if_else`` would rebuild the whole step in the
        branch); SX evaluates both and selects (a sparsity is the union of the two)."""
        if self.name == "numpy":
            return kept if done else update(kept, context)
        import casadi as ca

        kept_leaves, context_leaves = _leaves(kept), _leaves(context)
        if not _is_mx(done, *kept_leaves, *context_leaves):
            new = update(kept, context)
            return _rebuilt(kept, iter([ca.if_else(done, ca.SX(a), ca.SX(b)) for a, b in zip(kept_leaves, _leaves(new))]))
        sym_kept = [ca.MX.sym(f"unless_kept_{i}", *ca.MX(v).shape) for i, v in enumerate(kept_leaves)]
        sym_context = [ca.MX.sym(f"unless_context_{i}", *ca.MX(v).shape) for i, v in enumerate(context_leaves)]
        new = [ca.MX(v) for v in _leaves(update(_rebuilt(kept, iter(sym_kept)), _rebuilt(context, iter(sym_context))))]
        updated, free = _closure_function("unless_update", sym_kept + sym_context, new)
        switch = ca.Function.if_else("unless", ca.Function("unless_keep", sym_kept + sym_context + free, sym_kept),
                                     updated)
        out = switch(done, *[ca.MX(v) for v in kept_leaves + context_leaves], *free)
        return _rebuilt(kept, iter(out if isinstance(out, (list, tuple)) else [out]))

    def solve_spd_banded(self, diagonal: Any, bands: dict[int, Any], rhs: Any) -> Any:
        """x with A x = rhs for a symmetric positive definite banded A over the cells: ``diagonal``
        and ``bands[k]`` (k > 0; entry i is A[i, i + k], length n - k). numpy: LAPACK (scipy's
        solveh_banded), ``rhs`` a cell array or (cells, k) for k right-hand sides at once;
        CasADi: the same elimination written out on the band (no pivoting, which an SPD matrix
        does not need)."""
        width = max(bands) if bands else 0
        if self.name == "numpy":
            from scipy.linalg import solveh_banded

            n = len(diagonal)
            ab = np.zeros((width + 1, n))
            ab[width] = diagonal
            for k, band in bands.items():
                ab[width - k, k:] = band
            if width:
                return solveh_banded(ab, rhs, check_finite=False)
            rhs = np.asarray(rhs)
            return rhs / np.reshape(diagonal, (n,) + (1,) * (rhs.ndim - 1))
        n = diagonal.size1()
        a = {(i, i): diagonal[i] for i in range(n)}
        for k, band in bands.items():
            for i in range(n - k):
                a[(i, i + k)] = a[(i + k, i)] = band[i]
        b = [rhs[i] for i in range(n)]
        for i in range(n):  # forward elimination inside the band
            for r in range(i + 1, min(n, i + width + 1)):
                if (r, i) not in a:
                    continue
                factor = a[(r, i)] / a[(i, i)]
                for c in range(i + 1, min(n, i + width + 1)):
                    if (i, c) in a:
                        a[(r, c)] = a.get((r, c), 0.0) - factor * a[(i, c)]
                b[r] = b[r] - factor * b[i]
        x = [0.0] * n
        for i in reversed(range(n)):
            total = b[i]
            for c in range(i + 1, min(n, i + width + 1)):
                if (i, c) in a:
                    total = total - a[(i, c)] * x[c]
            x[i] = total / a[(i, i)]
        return self.cell_array(x)

    def _kinks(self, grid: Sequence[Any], values: Sequence[Any], held_edges: bool) -> tuple[Any, Any]:
        """Breakpoints where the slope changes, and the slope change there."""
        if self.name == "numpy":
            g, v = np.asarray(grid, dtype=float), np.asarray(values, dtype=float)
            key = (g.tobytes(), v.tobytes(), held_edges)  # by content, as the segment searches
            hit = _NUMPY_KINKS.get(key)
            if hit is None:  # a parameter set's tables are few and fixed: compute each once
                slopes = np.diff(v) / np.diff(g)
                hit = (g, np.diff(slopes, prepend=0.0, append=0.0)) if held_edges else (g[1:-1], np.diff(slopes))
                if len(_NUMPY_KINKS) >= 256:
                    _NUMPY_KINKS.pop(next(iter(_NUMPY_KINKS)))
                _NUMPY_KINKS[key] = hit
            return hit[0], hit[1]
        n = len(grid)
        slopes = [(values[k + 1] - values[k]) / (grid[k + 1] - grid[k]) for k in range(n - 1)]
        knots = list(grid[1:-1])
        jumps = [slopes[k] - slopes[k - 1] for k in range(1, n - 1)]
        if held_edges:
            return [grid[0], *knots, grid[-1]], [slopes[0], *jumps, -slopes[-1]]
        return knots, jumps

    def interp2(self, x: Any, y: Any, xgrid: Sequence[Any], ygrid: Sequence[Any], values: Any,
                mode: Extrapolation = "nearest", name: str = "table") -> Any:
        """Bilinear lookup of ``values[i][j]`` over ``xgrid[i]`` x ``ygrid[j]``.

        The extrapolation mode applies to both axes; an axis with a single point is constant.
        """
        if len(ygrid) == 1:
            return self.interp1(x, xgrid, [values[i][0] for i in range(len(xgrid))], mode, name)
        if len(xgrid) == 1:
            return self.interp1(y, ygrid, [values[0][j] for j in range(len(ygrid))], mode, name)
        xe, x_out = self._extrapolate(x, xgrid, mode, name)
        ye, y_out = self._extrapolate(y, ygrid, mode, name)
        z = self._interp2(xe, ye, xgrid, ygrid, values)
        if mode == "error" and self.name == "casadi":
            z = self.where(x_out + y_out, self.nan, z)
        return z

    def interp2_many(self, x: Any, y: Any, tables: Sequence[tuple[Any, Any, Any, Extrapolation, str]]) -> list[Any]:
        """Several bilinear lookups at one point, ``tables`` as (xgrid, ygrid, values, mode, name):
        numpy looks up the tables that share their grids and mode as one stack (one segment
        search and one gather for all); CasADi one by one."""
        if self.name != "numpy":
            return [self.interp2(x, y, *table) for table in tables]
        out: list[Any] = [None] * len(tables)
        groups: dict[tuple[Any, ...], list[int]] = {}
        for k, (xgrid, ygrid, _, mode, _) in enumerate(tables):
            if len(xgrid) < 2 or len(ygrid) < 2:
                out[k] = self.interp2(x, y, *tables[k])
                continue
            key = (np.asarray(xgrid, dtype=float).tobytes(), np.asarray(ygrid, dtype=float).tobytes(), mode)
            groups.setdefault(key, []).append(k)
        for members in groups.values():
            xgrid, ygrid, _, mode, _ = tables[members[0]]
            stack = np.stack([np.asarray(tables[k][2], dtype=float) for k in members])
            found = self.interp2(x, y, xgrid, ygrid, stack, mode, ", ".join(tables[k][4] for k in members))
            for k, value in zip(members, found):
                out[k] = value
        return out


def _leaves(tree: Any) -> list[Any]:
    """The leaves of a tree of dicts and lists, in a fixed order (None, an absent value such as a
    cell's missing charge table, is no leaf)."""
    if isinstance(tree, dict):
        return [leaf for key in tree for leaf in _leaves(tree[key])]
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [] if tree is None else [tree]


def _rebuilt(tree: Any, leaves: Any) -> Any:
    """``tree``'s shape with its leaves replaced, in :func:`_leaves` order, from the iterator ``leaves``."""
    if isinstance(tree, dict):
        return {key: _rebuilt(value, leaves) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_rebuilt(item, leaves) for item in tree]
    return None if tree is None else next(leaves)


#: compiled linearisations by their function's content (twins with equal parameters share one)
_COMPILED: dict[str, Any] = {}


def _compiled(function: Any) -> Any:
    """``function`` compiled by gcc through CasADi's JIT (2-5x faster than CasADi's virtual machine
    on the BMS's linearisations, measured), once per content; the function itself where gcc is
    missing or ``FMUTWIN_NO_JIT`` is set (same results: the same expression graph)."""
    import os
    import shutil
    import tempfile

    import casadi as ca

    if os.environ.get("FMUTWIN_NO_JIT") or shutil.which("gcc") is None:
        return function
    key = function.serialize()
    if key not in _COMPILED:
        # the loaded library outlives its folder; CasADi is told not to remove the files itself
        with tempfile.TemporaryDirectory(prefix="fmutwin_jit_") as folder:
            try:
                _COMPILED[key] = ca.Function(function.name(), function.sx_in(), function.call(function.sx_in()),
                                             {"jit": True, "compiler": "shell", "jit_cleanup": False,
                                              "jit_options": {"compiler": "gcc", "flags": ["-O2"],
                                                              "directory": folder + "/", "cleanup": False}})
            except RuntimeError:  # a compiler that fails: CasADi's virtual machine, same numbers
                _COMPILED[key] = function
    return _COMPILED[key]


def _closure_function(name: str, symbols: list[Any], outputs: list[Any]) -> tuple[Any, list[Any]]:
    """(a Function of ``symbols`` and then of every other symbol ``outputs`` read, those others):
    what a closure read (parameters, the step's inputs) becomes inputs passed through at each
    call, so a Function made on fresh symbols can be called inside the step's graph."""
    import casadi as ca

    own = {s.name() for s in symbols}
    free = [v for v in ca.symvar(ca.vertcat(*[ca.vec(o) for o in outputs])) if v.name() not in own]
    return ca.Function(name, list(symbols) + free, list(outputs)), free


def _casadi_linearise(ops: Ops, fn: Callable[..., list[Any]], x: list[Any], args: dict[str, Any]) -> tuple[
        list[Any], list[list[Any]]]:
    """:meth:`Ops.linearise` on CasADi values (scalars ``x``, any ``args``): ``fn`` and its
    Jacobian as one Function of fresh symbols (AD needs symbols; ``x`` may be expressions), made
    once per ``fn`` (every symbol it reads from its closure, such as the parameters, an input of
    it) and called, so generated code holds it once however often a step linearises it."""
    import casadi as ca

    names = sorted(args)
    values = [*x, *(args[n] for n in names)]
    kind = ca.MX if _is_mx(*values) else ca.SX
    shapes = tuple(kind(v).shape for v in values)
    key = (kind.__name__, len(x), tuple(names), shapes)
    cached = getattr(fn, "_casadi_linearised", None)
    if cached is None or cached[0] != key:
        symbols = [kind.sym(f"linearise_{i}", *shape) for i, shape in enumerate(shapes)]
        xs, arg_syms = symbols[:len(x)], dict(zip(names, symbols[len(x):]))
        out = ca.vertcat(*[kind(v) for v in fn(ops, xs, arg_syms)])
        function, free = _closure_function("linearised", symbols, [out, ca.jacobian(out, ca.vertcat(*xs))])
        cached = (key, function, free, out.numel())
        fn._casadi_linearised = cached  # type: ignore[attr-defined]
    _, function, free, n_out = cached
    out, jac = function(*[kind(v) for v in values], *free)
    return [out[i] for i in range(n_out)], [[jac[i, k] for k in range(len(x))] for i in range(n_out)]


def _casadi_map_cells(fn: Callable[[Any], Any], n: int, cells: Any) -> Any:
    """``fn`` as one CasADi Function of a cell's scalars (every symbol it also reads, from its
    closure, passed as an input that is the same for every cell), called once per cell.

    Each call reads the shared inputs in place. ``Function.map`` would copy every shared input
    (the parameter vector with its tables) once per cell and call: 85 % of a 12s4p module step in
    generated code. Stacking each cell's inputs into one vector instead costs transposes that
    make the step 40 % slower than these scalar arguments (measured in the C host)."""
    import casadi as ca

    inputs = _leaves(cells)
    kind = ca.MX if any(isinstance(v, ca.MX) for v in inputs) else ca.SX
    key = (n, kind.__name__, len(inputs))
    cached = getattr(fn, "_casadi_cell_function", None)  # the same closure called again (Newton iterations)
    if cached is not None and cached[0] == key:
        _, function, free, result = cached
    else:
        cell_symbols = [kind.sym(f"cell_entry_{i}") for i in range(len(inputs))]
        result = fn(_rebuilt(cells, iter(cell_symbols)))
        function, free = _closure_function("cell", cell_symbols, [kind(v) for v in _leaves(result)])
        fn._casadi_cell_function = (key, function, free, result)  # type: ignore[attr-defined]
    columns = [kind(v) for v in inputs]
    calls = [function(*[c[i] if c.numel() == n else c for c in columns], *free) for i in range(n)]
    calls = [c if isinstance(c, (list, tuple)) else [c] for c in calls]
    return _rebuilt(result, iter([ca.vertcat(*[c[k] for c in calls]) for k in range(len(calls[0]))]))


def _segment(x: Any, grid: Any) -> tuple[Any, Any]:
    """Index of the grid segment holding ``x`` (end segments extend outward) and the local
    coordinate t = (x - g_i) / (g_{i+1} - g_i), which lies outside [0, 1] when extrapolating.

    The last few results are kept, by content: a cell's tables are looked up at one (SOC,
    temperature) many times a step, mostly on equal grids."""
    g = np.asarray(grid, dtype=float)
    x = np.asarray(x, dtype=float)
    key = (x.shape, x.tobytes(), g.tobytes())
    hit = _SEGMENTS.get(key)
    if hit is not None:
        return hit
    i = np.minimum(np.maximum(np.searchsorted(g, x, side="right") - 1, 0), len(g) - 2)
    g0 = g[i]
    t = (x - g0) / (g[i + 1] - g0)
    if len(_SEGMENTS) >= 32:
        _SEGMENTS.pop(next(iter(_SEGMENTS)))
    _SEGMENTS[key] = (i, t)
    return i, t


def _numpy_interp1(x: Any, grid: Sequence[Any], values: Sequence[Any]) -> Any:
    """Linear formula on the segment found by binary search."""
    i, t = _segment(x, grid)
    v = np.asarray(values, dtype=float)
    return v[i] + t * (v[i + 1] - v[i])


def _numpy_kink_sum(a: Any, b: Any, knots: Sequence[Any], jumps: Sequence[Any]) -> Any:
    """sum_k jump_k max(0, (b - g_k)(g_k - a)), vectorised over cells and kinks."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    g = np.asarray(knots, dtype=float)
    # only kinks strictly inside some cell's interval contribute; a step rarely crosses one
    inside = (g > min(a.min(), b.min())) & (g < max(a.max(), b.max()))
    g = g[inside]
    return np.maximum((b[..., None] - g) * (g - a[..., None]), 0.0) @ np.asarray(jumps, dtype=float)[inside]


def _numpy_interp2(x: Any, y: Any, xgrid: Sequence[Any], ygrid: Sequence[Any], values: Any) -> Any:
    """Bilinear formula on the cell found by binary search along each axis; ``values`` may be a
    stack of tables on the same grids (leading axes), looked up at once."""
    i, tx = _segment(x, xgrid)
    j, ty = _segment(y, ygrid)
    v = np.asarray(values, dtype=float)
    columns = v.shape[-1]
    flat, k = v.reshape(*v.shape[:-2], -1), i * columns + j
    v00, v10, v01, v11 = (np.take(flat, index, axis=-1) for index in (k, k + columns, k + 1, k + columns + 1))
    low = v00 + tx * (v10 - v00)
    high = v01 + tx * (v11 - v01)
    return low + ty * (high - low)


_INTERPOLANTS: dict[tuple[int, ...], Any] = {}
#: numpy: the last segment searches (see _segment)
_SEGMENTS: dict[tuple[Any, bytes, bytes], tuple[Any, Any]] = {}
#: numpy: the kinks of each table seen, by its grid and values
_NUMPY_KINKS: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def _casadi_interpolant(sizes: tuple[int, ...]) -> Any:
    """CasADi's linear interpolant with grid and values as inputs (one per table shape).

    It searches the segment (no work per grid point in generated code) and extends the edge
    segments linearly, which is exactly the "linear" mode; "nearest" clamps its argument first.
    """
    if sizes not in _INTERPOLANTS:
        import casadi as ca

        _INTERPOLANTS[sizes] = ca.interpolant(f"table_{'x'.join(map(str, sizes))}", "linear", list(sizes), 1)
    return _INTERPOLANTS[sizes]


def _casadi_interp1(x: Any, grid: Sequence[Any], values: Sequence[Any]) -> Any:
    """Linear interpolation by CasADi's parametric interpolant (grid and values may be symbols);
    on MX, the segment search and formula of :func:`_mx_interp1`."""
    import casadi as ca

    if _is_mx(x):
        return _mx_interp1(x, grid, values)
    return _casadi_interpolant((len(grid),))(x, ca.vertcat(*grid), ca.vertcat(*values))


def _casadi_kink_sum(a: Any, b: Any, knots: Sequence[Any], jumps: Sequence[Any]) -> Any:
    """sum_k jump_k max(0, (b - g_k)(g_k - a)), unrolled over the kinks."""
    import casadi as ca

    total = 0.0
    for g, jump in zip(knots, jumps):
        total = total + jump * ca.fmax((b - g) * (g - a), 0)
    return total


def _casadi_interp2(x: Any, y: Any, xgrid: Sequence[Any], ygrid: Sequence[Any], values: Any) -> Any:
    """Bilinear interpolation by CasADi's parametric interpolant (values in column-major order);
    on MX, the segment searches and formula of :func:`_mx_interp2`."""
    import casadi as ca

    if _is_mx(x, y):
        return _mx_interp2(x, y, xgrid, ygrid, values)
    nx, ny = len(xgrid), len(ygrid)
    flat = [values[i][j] for j in range(ny) for i in range(nx)]
    return _casadi_interpolant((nx, ny))(ca.vertcat(x, y), ca.vertcat(*xgrid, *ygrid), ca.vertcat(*flat))


# ---- CasADi MX: tables read in place (the form generated C uses) ----------------------------------
@dataclass(frozen=True)
class Block:
    """A table axis or value array held in place in a symbolic vector (MX): ``shape`` entries,
    row-major, from ``vector[offset]`` on.

    Indexing gives scalars (or, for 2-D, a row as a Block) like the nested lists a parameter tree
    holds, so equations treat both alike; the MX table lookups read a Block where it lies:
    CasADi's ``low`` searches the segment and only the segment's points are fetched (in generated
    C: a pointer into the parameter vector, nothing copied).
    """

    vector: Any
    offset: int
    shape: tuple[int, ...]

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        n = len(self)
        if not -n <= k < n:
            raise IndexError(k)
        k = k % n
        if len(self.shape) == 1:
            return self.vector[self.offset + k]
        row = int(np.prod(self.shape[1:]))
        return Block(self.vector, self.offset + k * row, self.shape[1:])

    def __iter__(self) -> Any:
        return (self[k] for k in range(len(self)))


def _is_symbolic(x: Any) -> bool:
    """Whether ``x`` is a CasADi expression (SX, MX or DM), not a number or numpy array."""
    return type(x).__module__.startswith("casadi")


def _is_mx(*xs: Any) -> bool:
    import casadi as ca

    return any(isinstance(x, ca.MX) for x in xs)


def _mx_vector(seq: Any) -> tuple[Any, int]:
    """(MX vector, offset) holding the entries of a Block, a sequence of scalars or of rows
    (flattened row-major), or numbers."""
    import casadi as ca

    if isinstance(seq, Block):
        return seq.vector, seq.offset
    flat: list[Any] = []
    for item in seq:
        if isinstance(item, Block) or (isinstance(item, (list, tuple, np.ndarray)) and np.ndim(item) > 0):
            flat += list(item)
        else:
            flat.append(item)
    return ca.vertcat(*[ca.MX(e) for e in flat]), 0


def _mx_low(vector: Any, offset: int, n: int, x: Any) -> Any:
    """Index of the segment of the grid ``vector[offset:offset+n]`` holding ``x``: ``_segment``'s
    (end segments extend outward), as CasADi's ``low`` finds it (its automatic choice: a linear
    scan on short grids, binary search on long ones such as a 110-point OCV grid; measured with
    callgrind, binary search on the 21-point grids costs more instructions than the scan)."""
    import casadi as ca

    return ca.low(vector[offset:offset + n], x)


def _mx_point(x: Any, grid: Any, n: int) -> tuple[Any, Any, Any, Any]:
    """(segment index, grid vector, its offset, local coordinate t), as numpy's ``_segment``."""
    g, go = _mx_vector(grid)
    i = _mx_low(g, go, n, x)
    g0 = g[go + i]
    return i, g, go, (x - g0) / (g[(go + 1) + i] - g0)


def _mx_interp1(x: Any, grid: Sequence[Any], values: Sequence[Any]) -> Any:
    """numpy's formula v_i + t (v_(i+1) - v_i) on the segment found by ``low``."""
    i, _, _, t = _mx_point(x, grid, len(grid))
    v, vo = _mx_vector(values)
    v0 = v[vo + i]
    return v0 + t * (v[(vo + 1) + i] - v0)


def _mx_interp2(x: Any, y: Any, xgrid: Sequence[Any], ygrid: Sequence[Any], values: Any) -> Any:
    """numpy's bilinear formula on the cell found by ``low`` along each axis (values row-major)."""
    ny = len(ygrid)
    i, _, _, tx = _mx_point(x, xgrid, len(xgrid))
    j, _, _, ty = _mx_point(y, ygrid, ny)
    v, vo = _mx_vector(values)
    base = vo + i * ny + j
    v00, v01 = v[base], v[base + 1]
    low = v00 + tx * (v[base + ny] - v00)
    high = v01 + tx * (v[base + ny + 1] - v01)
    return low + ty * (high - low)


def cumulative_integral(ops: Ops, grid: Sequence[Any], values: Sequence[Any]) -> list[Any]:
    """C_k = integral of the piecewise-linear table from grid[0] to grid[k] (trapezoids), k = 0..n-1."""
    total, out = 0.0 * values[0], []
    for k in range(len(grid)):
        if k:
            total = total + 0.5 * (grid[k] - grid[k - 1]) * (values[k - 1] + values[k])
        out.append(total)
    return out


def _mx_mean1(ops: Ops, a: Any, b: Any, grid: Sequence[Any], values: Sequence[Any], mode: Extrapolation) -> Any:
    """Exact mean of the extrapolated table over [a, b] with O(1) work per call.

    The same quantity as :meth:`Ops.mean1`'s trapezoid-and-kinks form (which visits every kink),
    from the table's cumulative integral C (computed once per parameter set through
    ``ops.derived`` when given): with lo <= hi in segments i <= k,

        integral = (g_(i+1) - lo)(f(lo) + v_(i+1))/2 + C_k - C_(i+1) + (hi - g_k)(v_k + f(hi))/2

    or (hi - lo)(f(lo) + f(hi))/2 when i == k (no cancellation for the tiny intervals of a step);
    ``nearest`` clamps lo and hi to the grid and adds the held edge values times the length outside.
    """
    import casadi as ca

    n = len(grid)
    g, go = _mx_vector(grid)
    v, vo = _mx_vector(values)
    cum = cumulative_integral(ops, [g[go + k] for k in range(n)], [v[vo + k] for k in range(n)])
    if ops.derived is not None:
        key = ("cumulative_integral", id(g), go, id(v), vo, n) if isinstance(grid, Block) and isinstance(values, Block) else None
        c, co = ops.derived(key, ca.vertcat(*cum)), 0
    else:
        c, co = ca.vertcat(*cum), 0
    lo, hi = ops.fmin(a, b), ops.fmax(a, b)
    g_first, g_last = g[go], g[go + n - 1]
    lo_c, hi_c = (ops.clip(lo, g_first, g_last), ops.clip(hi, g_first, g_last)) if mode == "nearest" else (lo, hi)
    i, _, _, t_lo = _mx_point(lo_c, Block(g, go, (n,)), n)
    k, _, _, t_hi = _mx_point(hi_c, Block(g, go, (n,)), n)
    vi, vi1, vk, vk1 = v[vo + i], v[(vo + 1) + i], v[vo + k], v[(vo + 1) + k]
    f_lo = vi + t_lo * (vi1 - vi)
    f_hi = vk + t_hi * (vk1 - vk)
    same = (hi_c - lo_c) * (f_lo + f_hi) * 0.5
    cross = ((g[(go + 1) + i] - lo_c) * (f_lo + vi1) * 0.5 + (c[co + k] - c[(co + 1) + i])
             + (hi_c - g[go + k]) * (vk + f_hi) * 0.5)
    total = ops.where(i == k, same, cross)
    if mode == "nearest":
        total = (total + v[vo] * ops.fmax(ops.fmin(hi, g_first) - lo, 0.0)
                 + v[vo + n - 1] * ops.fmax(hi - ops.fmax(lo, g_last), 0.0))
    width = hi - lo
    mean = ops.where(width > 0, total / ops.where(width > 0, width, 1.0), f_lo)
    if mode == "error":
        outside = (a < g_first) + (a > g_last) + (b < g_first) + (b > g_last)
        mean = ops.where(outside, ops.nan, mean)
    return mean


class Derived:
    """Collects the parameter-only quantities of an MX evaluation (``Ops.derived``).

    ``derived(key, expr)`` returns a symbol standing for the column ``expr`` (equal keys share
    one); afterwards ``function(p)`` computes them all, and ``substitute`` puts one vector ``d``
    in place of the symbols, so a step ``(x, u, p, d)`` reads them where ``derive(p) -> d`` wrote
    them (computed once per parameter set, not every step).
    """

    def __init__(self) -> None:
        self.symbols: list[Any] = []
        self.expressions: list[Any] = []
        self._by_key: dict[Any, Any] = {}

    def __call__(self, key: Any, expr: Any) -> Any:
        import casadi as ca

        if key is not None and key in self._by_key:
            return self._by_key[key]
        sym = ca.MX.sym(f"derived_{len(self.symbols)}", expr.size1())
        self.symbols.append(sym)
        self.expressions.append(expr)
        if key is not None:
            self._by_key[key] = sym
        return sym

    @property
    def size(self) -> int:
        return int(sum(s.size1() for s in self.symbols))


def _make_numpy() -> Ops:
    return Ops(
        name="numpy", exp=np.exp, expm1=np.expm1, log=np.log, log1p=np.log1p, sqrt=np.sqrt, where=np.where,
        fmin=np.fmin, fmax=np.fmax, sign=np.sign, fabs=np.fabs, power=np.power,
        _interp1=_numpy_interp1, _interp2=_numpy_interp2,
        _kink_sum=_numpy_kink_sum,
    )


def _make_casadi() -> Ops:
    import casadi as ca

    return Ops(
        name="casadi", exp=ca.exp, expm1=ca.expm1, log=ca.log, log1p=ca.log1p, sqrt=ca.sqrt,
        where=lambda c, a, b: ca.if_else(c, a, b), fmin=ca.fmin, fmax=ca.fmax, sign=ca.sign,
        fabs=ca.fabs, power=lambda a, b: a ** b, _interp1=_casadi_interp1, _interp2=_casadi_interp2,
        _kink_sum=_casadi_kink_sum,
    )


NUMPY: Ops = _make_numpy()


def casadi_ops(derived: Derived | None = None) -> Ops:
    """The CasADi backend (imported lazily: the numpy twin does not need CasADi).

    ``derived``: on MX symbols, where parameter-only quantities go (see :class:`Derived`).
    """
    from dataclasses import replace

    return replace(_make_casadi(), derived=derived)
