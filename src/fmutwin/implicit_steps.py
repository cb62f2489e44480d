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
  accurate), the 3n stage system by simplified Newton (Hairer and Wanner, Solving ODEs II, IV.8).
"""

from __future__ import annotations

import math
from typing import Any

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
            a = ca.DM(RADAU5_A)
            matrix = ca.DM.eye(3 * n) - h * ca.kron(a, jac)
            z = ca.MX.zeros(3 * n)
            for _ in range(int(newton_iterations)):
                f = ca.vertcat(*[rhs(x + z[i * n:(i + 1) * n], p) for i in range(3)])
                z = z - ca.solve(matrix, z - h * ca.mtimes(ca.kron(a, ca.DM.eye(n)), f), "qr")
            x = x + z[2 * n:]
    return x
