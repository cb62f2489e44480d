"""Fixed-step implicit integration of a stiff ODE ``dx/dt = f(x, p)`` written as CasADi MX, so
that the step code-generates as plain C (CasADi's own ``integrator`` plugins cannot be
code-generated in CasADi 3.8).

Every scheme takes ``substeps`` equal substeps of ``dt``; per substep the Jacobian of ``f`` is
evaluated once, at the substep's start, and each linear system is solved by CasADi's sparse QR
(which code-generates; flattening the solve symbolically makes megabytes of C). A fixed number
of Newton iterations makes the step a smooth function of its inputs (its derivatives are exact,
by forward AD through the iterations).

Schemes (measured on PyBaMM's SPMe over US06 in docs/cell_echem.md):

* ``"ros2"``: the two-stage Rosenbrock method of Verwer et al. (1999), second order, L-stable;
  linearly implicit (no iteration).
* ``"sdirk2"``: Alexander's two-stage, second-order, L-stable, stiffly accurate SDIRK,
  gamma = 1 - 1/sqrt(2), each stage by simplified Newton.
* ``"radau5"``: the three-stage Radau IIA collocation method (fifth order, L-stable, stiffly
  accurate), the 3n stage system by simplified Newton in the variables that split it into one
  real n x n and one real 2n x 2n system (Hairer and Wanner, Solving ODEs II, IV.8).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SCHEMES = ("ros2", "sdirk2", "radau5")
ROS2_GAMMA = 1.0 + 1.0 / math.sqrt(2.0)
SDIRK2_GAMMA = 1.0 - 1.0 / math.sqrt(2.0)
_S6 = math.sqrt(6.0)
RADAU5_A = (((88 - 7 * _S6) / 360, (296 - 169 * _S6) / 1800, (-2 + 3 * _S6) / 225),
            ((296 + 169 * _S6) / 1800, (88 + 7 * _S6) / 360, (-2 - 3 * _S6) / 225),
            ((16 - _S6) / 36, (16 + _S6) / 36, 1.0 / 9.0))


def implicit_step(rhs: Any, x: Any, p: Any, dt: Any, scheme: str = "sdirk2", substeps: int = 1,
                  newton_iterations: int = 2) -> Any:
    """The state after ``dt`` from ``x`` (MX expressions) of ``dx/dt = rhs(x, p)``.

    ``rhs`` is a CasADi Function (x, p) -> dx/dt; ``newton_iterations`` applies to the SDIRK and
    Radau schemes."""
    import casadi as ca

    if scheme not in SCHEMES:
        raise ValueError(f"scheme: {scheme!r}; valid schemes: {', '.join(SCHEMES)}")
    if int(substeps) < 1 or int(newton_iterations) < 1:
        raise ValueError(f"substeps ({substeps}) and newton_iterations ({newton_iterations}) must be at least 1")
    n = rhs.size1_in(0)
    xs, ps = ca.MX.sym("xs", n), ca.MX.sym("ps", rhs.size1_in(1))
    jacobian = ca.Function("rhs_jacobian", [xs, ps], [ca.jacobian(rhs(xs, ps), xs)])
    h = dt / int(substeps)
    eye = ca.DM.eye(n)
    for _ in range(int(substeps)):
        jac = jacobian(x, p)
        if scheme == "ros2":
            matrix = eye - ROS2_GAMMA * h * jac
            k1 = ca.solve(matrix, rhs(x, p), "qr")
            k2 = ca.solve(matrix, rhs(x + h * k1, p) - 2.0 * k1, "qr")
            x = x + h * (1.5 * k1 + 0.5 * k2)
        elif scheme == "sdirk2":
            matrix = eye - SDIRK2_GAMMA * h * jac
            base, stages = x, []
            for weight in (1.0 - SDIRK2_GAMMA, None):
                k = ca.MX.zeros(n)
                for _ in range(int(newton_iterations)):
                    k = k - ca.solve(matrix, k - rhs(base + SDIRK2_GAMMA * h * k, p), "qr")
                stages.append(k)
                if weight is not None:
                    base = x + weight * h * k
            x = x + h * ((1.0 - SDIRK2_GAMMA) * stages[0] + SDIRK2_GAMMA * stages[1])
        else:
            x = x + _radau5_increment(rhs, x, p, h, jac, n, int(newton_iterations))
    return x


def _radau5_transformation() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, T^-1, L) with T^-1 A^-1 T = L = [[gamma, 0, 0], [0, L22, L23], [0, L32, L33]]: the
    real block-diagonal form of Radau IIA's inverse coefficient matrix (one real eigenvalue and a
    complex pair; Hairer and Wanner, IV.8)."""
    inverse = np.linalg.inv(np.array(RADAU5_A))
    values, vectors = np.linalg.eig(inverse)
    real = int(np.argmin(np.abs(values.imag)))
    pair = int(np.argmax(values.imag))
    t = np.column_stack([vectors[:, real].real, vectors[:, pair].real, vectors[:, pair].imag])
    t_inv = np.linalg.inv(t)
    return t, t_inv, t_inv @ inverse @ t


def _radau5_increment(rhs: Any, x: Any, p: Any, h: Any, jac: Any, n: int, iterations: int) -> Any:
    """x(t + h) - x(t) by Radau IIA, the stage system G(Z) = Z - h (A x I) F(Z) = 0 by simplified
    Newton in transformed variables W = (T^-1 x I) Z: one real n x n and one real 2n x 2n linear
    system per iteration instead of one 3n x 3n."""
    import casadi as ca

    t, t_inv, lam = _radau5_transformation()
    a_inv = np.linalg.inv(np.array(RADAU5_A))
    eye = ca.DM.eye(n)
    first = lam[0, 0] / h * eye - jac
    second = ca.kron(ca.DM(lam[1:, 1:]), eye) / h - ca.kron(ca.DM.eye(2), jac)
    z = [ca.MX.zeros(n) for _ in range(3)]
    for _ in range(iterations):
        f = [rhs(x + z[i], p) for i in range(3)]
        # residual of (h^-1 A^-1 x I) Z - F(Z) = 0, transformed by T^-1
        r = [sum(a_inv[i, j] * z[j] for j in range(3)) / h - f[i] for i in range(3)]
        w = [sum(t_inv[i, j] * r[j] for j in range(3)) for i in range(3)]
        dw1 = ca.solve(first, w[0], "qr")
        dw23 = ca.solve(second, ca.vertcat(w[1], w[2]), "qr")
        dw = [dw1, dw23[:n], dw23[n:]]
        z = [z[i] - sum(t[i, j] * dw[j] for j in range(3)) for i in range(3)]
    return z[2]
