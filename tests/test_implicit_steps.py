"""The fixed-step implicit schemes against the exact solution of a stiff linear ODE
(dx/dt = A x + b, solved by the matrix exponential): each converges at its order, and none
blows up on the stiff mode."""

from __future__ import annotations

import casadi as ca
import numpy as np
import pytest
from scipy.linalg import expm

from fmutwin.implicit_steps import implicit_step

#: a stiff (eigenvalues -1e4, -1, -0.1 and a rotation), non-normal system with a forcing p
A = np.array([[-1.0e4, 5.0, 0.0, 0.0], [0.0, -1.0, 2.0, 0.0], [0.0, -2.0, -0.1, 0.0], [1.0, 0.0, 1.0, -0.5]])


def _rhs():
    x, p = ca.MX.sym("x", 4), ca.MX.sym("p", 1)
    return ca.Function("rhs", [x, p], [ca.mtimes(ca.DM(A), x) + p * ca.DM([1.0, 0.0, 1.0, 0.0])])


def _exact(x0, p, t):
    """x(t) of dx/dt = A x + p b, by the augmented matrix exponential."""
    aug = np.zeros((5, 5))
    aug[:4, :4], aug[:4, 4] = A, p * np.array([1.0, 0.0, 1.0, 0.0])
    return (expm(aug * t) @ np.r_[x0, 1.0])[:4]


def _error(scheme, substeps, iterations=2, component=slice(None)):
    rhs = _rhs()
    x, p, dt = ca.MX.sym("x", 4), ca.MX.sym("p", 1), ca.MX.sym("dt")
    step = ca.Function("step", [x, p, dt], [implicit_step(rhs, x, p, dt, scheme, substeps, iterations)])
    x0 = np.array([1.0, 1.0, 0.0, 0.5])
    return np.max(np.abs((np.asarray(step(x0, 3.0, 1.0)).ravel() - _exact(x0, 3.0, 1.0))[component]))


@pytest.mark.parametrize("scheme, order", [("ros2", 2), ("sdirk2", 2), ("radau5", 5)])
def test_each_scheme_converges_at_its_order(scheme, order):
    errors = [_error(scheme, n) for n in (16, 32, 64)]  # h |lambda_stiff| = 625..156: ROS2 nears its order
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    print(scheme, errors, rates)
    assert np.all(np.abs(rates - order) < 0.3), (errors, rates)


def test_the_stiff_mode_is_damped_at_a_step_far_beyond_it():
    """h |lambda| = 1e4 and the stiff component starting far from its slow manifold: an L-stable
    scheme damps it in one step (the trapezoidal rule would keep it at about -1)."""
    for scheme in ("ros2", "sdirk2", "radau5"):
        assert _error(scheme, 1, component=0) < 1e-3, scheme


def test_unknown_scheme_is_named():
    with pytest.raises(ValueError, match="valid schemes: ros2, sdirk2, radau5"):
        implicit_step(_rhs(), ca.MX.sym("x", 4), ca.MX.sym("p", 1), 1.0, "rk4")
