"""Table lookup in both backends against scipy's interpolators (an independent reference)."""

from __future__ import annotations

import casadi as ca
import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator

from fmutwin.ops import NUMPY, TableRangeError, casadi_ops

CA = casadi_ops()
GRID = np.array([0.0, 0.1, 0.35, 0.6, 1.0])
VALS = np.array([3.0, 3.4, 3.6, 3.75, 4.2])
TGRID = np.array([263.15, 298.15, 318.15])
V2 = np.array([[1.0, 0.5, 0.4], [0.9, 0.45, 0.3], [0.8, 0.5, 0.35], [1.1, 0.6, 0.4], [1.3, 0.7, 0.5]])


def _casadi_eval(expr_of_x, x_values):
    x = ca.SX.sym("x")
    fn = ca.Function("f", [x], [expr_of_x(x)])
    return np.array([float(fn(v)) for v in x_values])


def _casadi_eval2(expr_of_xy, xs, ys):
    x, y = ca.SX.sym("x"), ca.SX.sym("y")
    fn = ca.Function("f", [x, y], [expr_of_xy(x, y)])
    return np.array([float(fn(a, b)) for a, b in zip(xs, ys)])


def _line_extension(x):
    """Independent linear extrapolation: extend the edge segments by hand."""
    lo = VALS[0] + (x - GRID[0]) * (VALS[1] - VALS[0]) / (GRID[1] - GRID[0])
    hi = VALS[-1] + (x - GRID[-1]) * (VALS[-1] - VALS[-2]) / (GRID[-1] - GRID[-2])
    return np.where(x < GRID[0], lo, np.where(x > GRID[-1], hi, np.interp(x, GRID, VALS)))


X = np.linspace(-0.3, 1.4, 341)


def test_nearest_matches_numpy_interp_in_both_backends():
    ref = np.interp(X, GRID, VALS)  # numpy.interp clamps: that is 'nearest'
    np.testing.assert_allclose(NUMPY.interp1(X, GRID, VALS, "nearest"), ref, rtol=1e-14)
    np.testing.assert_allclose(_casadi_eval(lambda x: CA.interp1(x, GRID, VALS, "nearest"), X), ref, rtol=1e-13)


def test_linear_extends_edge_segments_in_both_backends():
    ref = _line_extension(X)
    np.testing.assert_allclose(NUMPY.interp1(X, GRID, VALS, "linear"), ref, rtol=1e-14)
    np.testing.assert_allclose(_casadi_eval(lambda x: CA.interp1(x, GRID, VALS, "linear"), X), ref, rtol=1e-13)


def test_error_mode_raises_in_numpy_and_gives_nan_in_casadi():
    inside = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(NUMPY.interp1(inside, GRID, VALS, "error"), np.interp(inside, GRID, VALS))
    with pytest.raises(TableRangeError, match=r"table 'ocv_V'.*1\.2.*\[0\.0, 1\.0\]"):
        NUMPY.interp1(np.array([0.5, 1.2]), GRID, VALS, "error", name="ocv_V")
    out = _casadi_eval(lambda x: CA.interp1(x, GRID, VALS, "error"), [-0.1, 0.5, 1.2])
    assert np.isnan(out[0]) and np.isnan(out[2]) and out[1] == pytest.approx(np.interp(0.5, GRID, VALS))


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_bilinear_matches_scipy_regular_grid_interpolator(mode, rng):
    xs = rng.uniform(-0.2, 1.2, 300)
    ys = rng.uniform(250.0, 330.0, 300)
    rgi = RegularGridInterpolator((GRID, TGRID), V2, method="linear", bounds_error=False, fill_value=None)
    if mode == "nearest":
        ref = rgi(np.column_stack([np.clip(xs, GRID[0], GRID[-1]), np.clip(ys, TGRID[0], TGRID[-1])]))
    else:
        ref = rgi(np.column_stack([xs, ys]))  # fill_value=None: scipy extrapolates linearly
    np.testing.assert_allclose(NUMPY.interp2(xs, ys, GRID, TGRID, V2, mode), ref, rtol=1e-13)
    got = _casadi_eval2(lambda x, y: CA.interp2(x, y, GRID, TGRID, V2.tolist(), mode), xs, ys)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_bilinear_error_mode():
    with pytest.raises(TableRangeError, match="temperature"):
        NUMPY.interp2(np.array([0.5]), np.array([400.0]), GRID, TGRID, V2, "error", name="temperature table")
    got = _casadi_eval2(lambda x, y: CA.interp2(x, y, GRID, TGRID, V2.tolist(), "error"), [0.5, 0.5], [300.0, 400.0])
    assert np.isfinite(got[0]) and np.isnan(got[1])


def test_lookup_is_vectorised_over_cells():
    cells = np.linspace(0.0, 1.0, 1000)
    out = NUMPY.interp1(cells, GRID, VALS)
    assert out.shape == (1000,)
    np.testing.assert_allclose(out, np.interp(cells, GRID, VALS), rtol=1e-14)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_interval_mean_matches_quadrature(mode, rng):
    """mean1 is the exact mean over [a, b]: compare with scipy.integrate.quad (breakpoints given)."""
    from scipy.integrate import quad

    f = (lambda x: float(np.interp(x, GRID, VALS))) if mode == "nearest" else (lambda x: float(_line_extension(x)))
    a = rng.uniform(-0.2, 1.2, 40)
    b = a + rng.normal(0, 0.3, 40)
    b[:5] = a[:5] + rng.normal(0, 1e-7, 5)  # step-sized intervals
    ref = np.array([quad(f, lo, hi, points=GRID, limit=200, epsabs=1e-14)[0] / (hi - lo) for lo, hi in zip(a, b)])
    np.testing.assert_allclose(NUMPY.mean1(a, b, GRID, VALS, mode), ref, rtol=1e-10)
    x, y = ca.SX.sym("x"), ca.SX.sym("y")
    fn = ca.Function("m", [x, y], [CA.mean1(x, y, GRID, VALS, mode)])
    np.testing.assert_allclose([float(fn(lo, hi)) for lo, hi in zip(a, b)], ref, rtol=1e-10)
    assert NUMPY.mean1(np.array([0.2]), np.array([0.2]), GRID, VALS, mode)[0] == pytest.approx(np.interp(0.2, GRID, VALS))


def test_math_module_on_a_casadi_symbol_is_why_ops_exists():
    """The pitfall the ops namespace prevents: math.exp of a symbol silently gives nan."""
    import math

    assert math.isnan(math.exp(ca.SX.sym("x")))
    assert float(ca.Function("f", [x := ca.SX.sym("x")], [CA.exp(x)])(1.0)) == pytest.approx(math.e)


# ---- CasADi MX: the form generated C runs (tables read in place, cumulative integral derived once) ----
def _mx_table_vector():
    """GRID, VALS, TGRID and V2 (row-major) packed into one vector, as a parameter vector holds them."""
    return np.concatenate([[7.0], GRID, VALS, TGRID, V2.ravel()])


def _mx_blocks(p):
    from fmutwin.ops import Block

    n, m = len(GRID), len(TGRID)
    return (Block(p, 1, (n,)), Block(p, 1 + n, (n,)), Block(p, 1 + 2 * n, (m,)), Block(p, 1 + 2 * n + m, (n, m)))


@pytest.mark.parametrize("tables", ["blocks", "numbers"])
@pytest.mark.parametrize("mode", ["nearest", "linear", "error"])
def test_mx_lookups_equal_numpy(mode, tables, rng):
    """On MX the lookups read the tables in place (Block) or take numbers; same values as numpy's
    binary search and segment formula, NaN in CasADi where numpy raises."""
    p = ca.MX.sym("p", len(_mx_table_vector()))
    x, y = ca.MX.sym("x"), ca.MX.sym("y")
    g, v, tg, v2 = _mx_blocks(p) if tables == "blocks" else (GRID, VALS, TGRID, V2.tolist())
    fn = ca.Function("f", [x, y, p], [CA.interp1(x, g, v, mode), CA.interp2(x, y, g, tg, v2, mode)])
    xs = np.concatenate([rng.uniform(-0.2, 1.2, 200), GRID])
    ys = np.concatenate([rng.uniform(250.0, 330.0, 200), np.resize(TGRID, len(GRID))])
    got = np.array([np.array(fn(a, b, _mx_table_vector())).ravel() for a, b in zip(xs, ys)], dtype=float).reshape(-1, 2)
    inside = (xs >= GRID[0]) & (xs <= GRID[-1]) & (ys >= TGRID[0]) & (ys <= TGRID[-1])
    ok = inside if mode == "error" else np.ones_like(inside)
    np.testing.assert_allclose(got[ok, 0], NUMPY.interp1(xs[ok], GRID, VALS, mode), rtol=1e-15)
    np.testing.assert_allclose(got[ok, 1], NUMPY.interp2(xs[ok], ys[ok], GRID, TGRID, V2, mode), rtol=1e-15)
    if mode == "error":
        x_out = (xs < GRID[0]) | (xs > GRID[-1])
        assert np.all(np.isnan(got[x_out, 0])) and np.all(np.isnan(got[~inside, 1]))


@pytest.mark.parametrize("derived", [False, True])
@pytest.mark.parametrize("mode", ["nearest", "linear", "error"])
def test_mx_interval_mean_matches_quadrature_and_numpy(mode, derived, rng):
    """The MX mean1 (cumulative integral, O(1) per call; with ``derived`` the integral is a
    separate function of the parameters, as in generated C) against scipy.integrate.quad and
    against numpy's trapezoid-and-kinks form."""
    from scipy.integrate import quad

    from fmutwin.ops import Derived

    registry = Derived() if derived else None
    ops = casadi_ops(registry)
    p = ca.MX.sym("p", len(_mx_table_vector()))
    g, v, _, _ = _mx_blocks(p)
    a, b = ca.MX.sym("a"), ca.MX.sym("b")
    mean = ops.mean1(a, b, g, v, mode)
    pv = _mx_table_vector()
    if derived:
        assert registry.size == len(GRID)
        ops.mean1(b, a, g, v, mode)  # the same table again: its integral is kept once
        assert len(registry.symbols) == 1
        d = ca.MX.sym("d", registry.size)
        mean = ca.substitute([mean], registry.symbols, [d])[0]
        fn = ca.Function("m", [a, b, p, d], [mean])
        d_val = ca.Function("derive", [p], [ca.vertcat(*registry.expressions)])(pv)
        evaluate = lambda lo, hi: float(fn(lo, hi, pv, d_val))  # noqa: E731
    else:
        fn = ca.Function("m", [a, b, p], [mean])
        evaluate = lambda lo, hi: float(fn(lo, hi, pv))  # noqa: E731
    f = (lambda s: float(np.interp(s, GRID, VALS))) if mode == "nearest" else (lambda s: float(_line_extension(s)))
    lo_lim, hi_lim = (GRID[0], GRID[-1]) if mode == "error" else (-0.3, 1.3)
    xa = rng.uniform(lo_lim, hi_lim, 60)
    xb = np.clip(xa + rng.normal(0, 0.3, 60), lo_lim, hi_lim)
    xb[:10] = np.clip(xa[:10] + rng.normal(0, 1e-7, 10), lo_lim, hi_lim)  # step-sized intervals
    xa[10:13], xb[10:13] = GRID[1:-1] - 1e-9, GRID[1:-1] + 1e-9  # tiny intervals across a kink
    xa[14], xb[14] = 0.2, 0.2  # a point: the table value
    if mode != "error":  # reversed, tiny, across the grid's ends
        xa[15:17], xb[15:17] = GRID[[0, -1]] + 1e-9, GRID[[0, -1]] - 1e-9
    got = np.array([evaluate(lo, hi) for lo, hi in zip(xa, xb)])
    ref = np.array([quad(f, min(lo, hi), max(lo, hi), points=GRID, limit=200, epsabs=1e-14)[0] / abs(hi - lo)
                    if hi != lo else f(lo) for lo, hi in zip(xa, xb)])
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    np.testing.assert_allclose(got, NUMPY.mean1(xa, xb, GRID, VALS, mode), rtol=1e-13)
    if mode == "error":
        assert np.isnan(evaluate(0.5, 1.2)) and np.isnan(evaluate(-0.1, 0.5))
        with pytest.raises(TableRangeError):
            NUMPY.mean1(np.array([0.5]), np.array([1.2]), GRID, VALS, mode)
