"""State-of-charge estimation per series element: coulomb counting and an extended Kalman filter
on the cell equations.

A series element of Np parallel cells is estimated as one cell of Np times the capacity and 1/Np
of R0 and of the RC resistances (the time constants kept): what the BMS measures of it is its
voltage, its temperature and the pack current. The filter's model is the cell step itself
(:func:`fmutwin.equations.cell.step`, exact RC discretisation, the OCV source, tables over SOC
and temperature), with the thermal state held at the measured temperature and without the fault
and aging states, which a SoC filter does not estimate. Its state per element is
``z = (SOC, v_RC1, ..., v_RCn)``, with the hysteresis state H after them where the cell file has
hysteresis (its sign S, -sign of the last non-zero current, is known from the measured current:
an input of the model, ``hysteresis_sign``, not a filter state), and for the adaptive filter
last a factor on R0 (the EKF on the augmented state, the factor a random walk: the element's
resistance relative to the cell file's, i.e. to new); its Jacobians come from CasADi's automatic
differentiation of that step (:meth:`Ops.linearise`), never by hand.

One EKF step per element, with the current held over the step (positive = discharge):

    z- = f(z, I, T),  F = df/dz,  P- = F P F' + Q
    h = V(z-, I, T),  H = dV/dz-, S = H P- H' + R,  K = P- H' / S
    z = z- + K (V_measured - h),  P = (1 - K H) P- (1 - K H)' + K R K'   (Joseph form: stays symmetric
                                                                          and positive definite)

The unscented (sigma-point) Kalman filter (Julier and Uhlmann; additive noise, as in Wan and van
der Merwe 2000) needs no Jacobian: 2n + 1 sigma points z +- sqrt((n + lambda) P) (columns of the
Cholesky factor), kappa = 3 - n, alpha = 1, beta = 2 (positive weights for n < 3), each stepped by
the same cell step; mean and covariance from their weighted spread, the gain from the
state-voltage cross-covariance:

    z- = sum Wm f(chi),  P- = sum Wc (f(chi) - z-)(...)' + Q;  sigma points of (z-, P-) again
    h = sum Wm V(chi-),  S = sum Wc (V(chi-) - h)^2 + R,  C = sum Wc (chi- - z-)(V(chi-) - h)
    K = C / S,  z = z- + K (V_measured - h),  P = P- - K S K'

Small matrices are lists of lists whose entries are arrays over the elements (numpy), so every
element is filtered at once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from fmutwin.equations import cell
from fmutwin.equations.cell import CellStructure
from fmutwin.ops import Ops


def estimator_structure(s: CellStructure) -> CellStructure:
    """The cell structure the filter runs: its tables, RC branches and hysteresis, the
    temperature a held input (a constant thermal model), no fault or aging states."""
    return replace(s, thermal_model="constant", n_nodes=1, cycling_aging=False,
                   internal_short=False, series_resistance=False, exothermic_reaction=False,
                   current_interruption=False)


def element_parameters(p: dict[str, Any], n_parallel: int) -> dict[str, Any]:
    """A cell's equation parameters for an element of ``n_parallel`` such cells in parallel."""
    return {**p, "nominal_capacity_As": p["nominal_capacity_As"] * n_parallel,
            "r0_scale": p["r0_scale"] / n_parallel, "rc_resistance_scale": p["rc_resistance_scale"] / n_parallel,
            "charge_transfer_current_scale": p["charge_transfer_current_scale"] * n_parallel}


def state_names(s: CellStructure, adaptive: bool = False) -> list[str]:
    """The filter's state per element, in the order of ``z``: SoC, the RC voltages, the hysteresis
    state and the electrolyte-concentration state where the cell has them, and for the adaptive
    filter the factor on the cell file's R0 (the element's resistance relative to new)."""
    return (["soc"] + [f"rc_voltage_{i + 1}_V" for i in range(s.n_rc)] + (["hysteresis_state"] if s.hysteresis else [])
            + (["concentration_state"] if s.concentration else []) + (["r0_factor"] if adaptive else []))


#: standard deviation of the concentration state at the start and its process noise per sqrt(s) [C-rate]
CONCENTRATION_STD = 0.05
CONCENTRATION_PROCESS_NOISE = 0.01


def cell_state(ops: Ops, s: CellStructure, z: list[Any], temperature_K: Any, hysteresis_sign: Any = 0.0) -> dict[
        str, Any]:
    """The cell equations' state for the filter's ``z`` (the rest at rest, no fault; an R0 factor
    at the end of ``z`` is not a cell state and is ignored; the hysteresis sign as given)."""
    zero = 0.0 * z[0]
    x = {name: zero for name in s.state_names()}
    x.update(zip(state_names(s), z))
    x["node_temperature_1_K"] = temperature_K + zero
    if s.hysteresis:
        x["hysteresis_sign"] = hysteresis_sign + zero
    return x


def hysteresis_sign(ops: Ops, sign: Any, current_A: Any) -> Any:
    """The hysteresis sign S after a step of ``current_A`` (positive = discharge): -sign of the
    last non-zero current."""
    return ops.where(current_A != 0, -ops.sign(current_A), sign)


def model(s: CellStructure, p: dict[str, Any], adaptive: bool = False) -> tuple[Callable[..., list[Any]],
                                                                               Callable[..., list[Any]]]:
    """The filter's (transition, measurement) functions for :meth:`Ops.linearise`, over the
    estimator structure ``s`` and element parameters ``p``: ``transition(ops, z, u)`` -> z after
    a step, ``measurement(ops, z, u)`` -> [terminal voltage]; ``u`` holds ``current_A``,
    ``temperature_K`` and ``dt_s`` (and ``hysteresis_sign`` after the step, where the cell has
    hysteresis). ``adaptive``: the last entry of ``z`` multiplies R0 and
    stays constant over a step (a random walk: its process noise lets it follow). Each call of
    :func:`model` makes new functions (their linearisation is made once per function)."""
    n_cell = len(state_names(s))

    def parameters(z: list[Any]) -> dict[str, Any]:
        return {**p, "r0_scale": p["r0_scale"] * z[-1]} if adaptive else p

    def transition(ops: Ops, z: list[Any], u: dict[str, Any]) -> list[Any]:
        x = cell_state(ops, s, z, u["temperature_K"], u.get("hysteresis_sign", 0.0))
        xn, _ = cell.step(ops, s, parameters(z), x, {"current_A": u["current_A"], "heat_flow_W": 0.0 * z[0],
                                                     "ambient_temperature_K": u["temperature_K"], "dt_s": u["dt_s"]})
        return [xn[name] for name in state_names(s)] + list(z[n_cell:])

    def measurement(ops: Ops, z: list[Any], u: dict[str, Any]) -> list[Any]:
        x = cell_state(ops, s, z, u["temperature_K"], u.get("hysteresis_sign", 0.0))
        return [cell.terminal_voltage(ops, s, parameters(z), x, u["current_A"], u["temperature_K"])]

    return transition, measurement


def coulomb_count(soc: Any, current_A: Any, dt_s: Any, capacity_As: Any) -> Any:
    """SoC after a step of held current (positive = discharge) by charge counting alone."""
    return soc - current_A * dt_s / capacity_As


def _product(a: list[list[Any]], b: list[list[Any]]) -> list[list[Any]]:
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def _transpose(a: list[list[Any]]) -> list[list[Any]]:
    return [list(row) for row in zip(*a)]


def ekf_step(ops: Ops, transition: Callable[..., list[Any]], measurement: Callable[..., list[Any]], z: list[Any],
             covariance: list[list[Any]], u: dict[str, Any], voltage_V: Any, process_noise: list[Any],
             voltage_variance: Any) -> dict[str, Any]:
    """One predict-and-correct step (see the module docstring) with the measured element
    voltage at the step's end; ``process_noise`` is Q's diagonal, ``voltage_variance`` R.
    Returns the new ``z`` and ``covariance``, the predicted voltage and the innovation."""
    n = len(z)
    predicted, f_jac = ops.linearise(transition, z, u)
    p_minus = _product(_product(f_jac, covariance), _transpose(f_jac))
    p_minus = [[p_minus[i][j] + (process_noise[i] if i == j else 0.0) for j in range(n)] for i in range(n)]
    (voltage,), (h_row,) = ops.linearise(measurement, predicted, u)
    ph = [sum(p_minus[i][k] * h_row[k] for k in range(n)) for i in range(n)]  # P- H'
    innovation_variance = sum(h_row[i] * ph[i] for i in range(n)) + voltage_variance
    gain = [ph[i] / innovation_variance for i in range(n)]
    innovation = voltage_V - voltage
    z_new = [predicted[i] + gain[i] * innovation for i in range(n)]
    keep = [[(1.0 if i == j else 0.0) - gain[i] * h_row[j] for j in range(n)] for i in range(n)]
    joseph = _product(_product(keep, p_minus), _transpose(keep))
    covariance_new = [[joseph[i][j] + gain[i] * voltage_variance * gain[j] for j in range(n)] for i in range(n)]
    return {"z": z_new, "covariance": covariance_new, "voltage_V": voltage, "innovation_V": innovation,
            "innovation_variance_V2": innovation_variance}


#: the smallest squared pivot of the UKF's Cholesky factor (a state the filter is certain of, e.g.
#: with zero process noise, keeps a finite factor instead of a division by zero)
PIVOT_FLOOR = 1e-30


def _cholesky(ops: Ops, a: list[list[Any]]) -> list[list[Any]]:
    """The lower Cholesky factor of a small symmetric positive definite matrix (entries per element)."""
    n = len(a)
    low: list[list[Any]] = [[0.0 * a[0][0] for _ in range(n)] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            rest = a[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            low[i][j] = ops.sqrt(ops.fmax(rest, PIVOT_FLOOR)) if i == j else rest / low[j][j]
    return low


def _sigma_points(ops: Ops, z: list[Any], covariance: list[list[Any]]) -> tuple[list[list[Any]], list[float], list[float]]:
    """(sigma points, mean weights, covariance weights): kappa = 3 - n, alpha = 1, beta = 2."""
    n = len(z)
    lam = 3.0 - n  # alpha^2 (n + kappa) - n with alpha = 1
    low = _cholesky(ops, covariance)
    spread = (n + lam) ** 0.5
    points = [list(z)]
    for sign in (1.0, -1.0):
        points += [[z[i] + sign * spread * low[i][k] for i in range(n)] for k in range(n)]
    w_mean = [lam / (n + lam)] + [0.5 / (n + lam)] * (2 * n)
    w_cov = [w_mean[0] + 2.0] + w_mean[1:]  # + (1 - alpha^2 + beta)
    return points, w_mean, w_cov


def ukf_step(ops: Ops, transition: Callable[..., list[Any]], measurement: Callable[..., list[Any]], z: list[Any],
             covariance: list[list[Any]], u: dict[str, Any], voltage_V: Any, process_noise: list[Any],
             voltage_variance: Any) -> dict[str, Any]:
    """One unscented predict-and-correct step (see the module docstring); arguments and results
    as :func:`ekf_step`."""
    n = len(z)
    points, w_mean, w_cov = _sigma_points(ops, z, covariance)
    moved = [transition(ops, point, u) for point in points]
    predicted = [sum(w * m[i] for w, m in zip(w_mean, moved)) for i in range(n)]
    p_minus = [[sum(w * (m[i] - predicted[i]) * (m[j] - predicted[j]) for w, m in zip(w_cov, moved))
                + (process_noise[i] if i == j else 0.0) for j in range(n)] for i in range(n)]
    points, _, _ = _sigma_points(ops, predicted, p_minus)
    volts = [measurement(ops, point, u)[0] for point in points]
    voltage = sum(w * v for w, v in zip(w_mean, volts))
    innovation_variance = sum(w * (v - voltage) ** 2 for w, v in zip(w_cov, volts)) + voltage_variance
    cross = [sum(w * (pt[i] - predicted[i]) * (v - voltage) for w, pt, v in zip(w_cov, points, volts))
             for i in range(n)]
    gain = [c / innovation_variance for c in cross]
    innovation = voltage_V - voltage
    return {"z": [predicted[i] + gain[i] * innovation for i in range(n)],
            "covariance": [[p_minus[i][j] - gain[i] * innovation_variance * gain[j] for j in range(n)]
                           for i in range(n)],
            "voltage_V": voltage, "innovation_V": innovation, "innovation_variance_V2": innovation_variance}
