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
