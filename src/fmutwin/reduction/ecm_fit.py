"""Fitting the cell ECM's resistance and time-constant tables to simulated (or measured) traces.

The fitted model is the cell twin's own discretisation (:mod:`fmutwin.equations.cell` with
constant temperature, no hysteresis, no aging): over step k of length dt_k with current I_k
(positive = discharge),

    SOC_k   = SOC_(k-1) - I_k dt_k / Q
    v_i,k   = rc_step(v_i,(k-1), I_k, R_i(SOC_(k-1)), tau_i, dt_k)     (exact RC solution)
    V_k     = OCV(SOC_k) - I_k R0(SOC_k) - sum_i v_i,k

with OCV and Q given (the electrochemical model's equilibrium OCV and electrode-SOH capacity).
For fixed time constants V is linear in the resistance table values (tables interpolate
linearly in SOC), so the fit is a separable least-squares problem (variable projection): an
outer ``scipy.optimize.least_squares`` over log(tau) and, inside, a bounded linear
least-squares solve (``scipy.optimize.lsq_linear``, R >= ``min_resistance_ohm``) for every R
node, with a curvature penalty along SOC that keeps nodes with little data smooth. Each
temperature is fitted on its own; the results are assembled into (SOC, T) tables.

The RC responses come from :func:`fmutwin.equations.circuit.rc_step` itself (numpy ops,
vectorised over the table nodes), so the fit and the twin share the equation text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy.linalg import block_diag, solve_banded
from scipy.optimize import least_squares, lsq_linear
from threadpoolctl import threadpool_limits

from fmutwin.equations.circuit import rc_step
from fmutwin.ops import NUMPY

#: default bounds of the time constants for 1, 2 and 3 RC branches [s] (disjoint: no label switching)
TAU_BOUNDS_S: dict[int, tuple[tuple[float, float], ...]] = {
    1: ((1.0, 3000.0),),
    2: ((0.5, 40.0), (40.0, 5000.0)),
    3: ((0.2, 15.0), (15.0, 300.0), (300.0, 10000.0)),
}


#: bounds of the charge-transfer reference current I_ct [A] and the concentration time constant
#: tau_e [s] (see :class:`FitSettings`)
CHARGE_TRANSFER_CURRENT_BOUNDS_A = (0.05, 500.0)
CONCENTRATION_TIME_CONSTANT_BOUNDS_S = (5.0, 5000.0)


@dataclass(frozen=True)
class FitSettings:
    """What is fitted and how (recorded in provenance)."""

    n_rc: int = 2
    soc_grid: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
    tau_soc_grid: tuple[float, ...] = (0.0, 0.5, 1.0)  # time constants vary linearly between these SOC nodes
    high_current_weight: float = 0.0  # extra weight of samples at the largest |current| (see _Problem)
    smoothing: float = 0.02  # weight of the SOC-curvature penalty [V per Ohm of second difference, per sqrt(sample)]
    min_resistance_ohm: float = 1e-6
    max_nfev: int = 60
    #: fit a charge-transfer overpotential b(SOC) asinh(I / I_ct) beside R0 (b a table, I_ct one value)
    charge_transfer: bool = False
    #: fit an electrolyte-concentration overpotential k_e e^3, e a first-order lag of the C-rate (time constant tau_e)
    concentration: bool = False

    def __post_init__(self) -> None:
        if self.n_rc not in TAU_BOUNDS_S:
            raise ValueError(f"n_rc = {self.n_rc}: 1, 2 or 3 RC branches can be fitted")
        for name in ("soc_grid", "tau_soc_grid"):
            grid = np.asarray(getattr(self, name))
            if grid.size < 1 or np.any(np.diff(grid) <= 0) or grid[0] < 0 or grid[-1] > 1:
                raise ValueError(f"{name}: must be increasing within [0, 1], got {getattr(self, name)}")

    def record(self) -> dict[str, Any]:
        return {"n_rc": self.n_rc, "soc_grid": list(self.soc_grid), "tau_soc_grid": list(self.tau_soc_grid),
                "smoothing": self.smoothing, "high_current_weight": self.high_current_weight, "min_resistance_ohm": self.min_resistance_ohm,
                "max_nfev": self.max_nfev, "tau_bounds_s": [list(b) for b in TAU_BOUNDS_S[self.n_rc]],
                "charge_transfer": self.charge_transfer, "concentration": self.concentration,
                **({"charge_transfer_current_bounds_A": list(CHARGE_TRANSFER_CURRENT_BOUNDS_A)}
                   if self.charge_transfer else {}),
                **({"concentration_time_constant_bounds_s": list(CONCENTRATION_TIME_CONSTANT_BOUNDS_S)}
                   if self.concentration else {})}


@dataclass(frozen=True)
class FitData:
    """One experiment as the fit sees it: steps, the SOC path, the measured voltage."""

    name: str
    dt_s: np.ndarray
    current_A: np.ndarray  # positive = discharge
    soc: np.ndarray  # SOC_0..SOC_n (n + 1 values)
    voltage_V: np.ndarray  # at the end of each step (n values)
    ocv_V: np.ndarray  # OCV(SOC_k) at the end of each step (n values)


def error_summary(error_V: np.ndarray) -> dict[str, float]:
    """RMS and largest absolute value of an error signal [V]."""
    error_V = np.asarray(error_V, float)
    return {"rms_V": float(np.sqrt(np.mean(error_V ** 2))), "max_V": float(np.max(np.abs(error_V)))}


def fit_data(name: str, time_s: np.ndarray, current_A: np.ndarray, voltage_V: np.ndarray, initial_soc: float,
             capacity_As: float, ocv_soc: np.ndarray, ocv_V: np.ndarray) -> FitData:
    """Coulomb-count the SOC path of a profile and evaluate the given OCV curve along it."""
    dt = np.diff(np.asarray(time_s, float))
    if not (np.isfinite(dt).all() and np.all(dt > 0)):
        raise ValueError(f"{name}: time_s must be finite and strictly increasing")
    current = np.asarray(current_A, float)
    voltage = np.asarray(voltage_V, float)
    for label, arr in (("current_A", current), ("voltage_V", voltage)):
        if arr.shape != dt.shape or not np.isfinite(arr).all():
            raise ValueError(f"{name}: {label} must be finite with one value per step ({dt.size})")
    soc = initial_soc - np.concatenate([[0.0], np.cumsum(current * dt)]) / capacity_As
    ocv = np.asarray(NUMPY.interp1(soc[1:], list(ocv_soc), list(ocv_V), "nearest", "ocv_V"), float)
    if not np.isfinite(ocv).all():
        raise ValueError(f"{name}: ocv_V must be finite")
    return FitData(name, dt, current, soc, voltage, ocv)


def _hat_basis(x: np.ndarray, grid: Sequence[float]) -> np.ndarray:
    """Linear-interpolation weights: column j is the table with 1 at node j and 0 elsewhere."""
    eye = np.eye(len(grid))
    return np.stack([NUMPY.interp1(x, list(grid), list(eye[j]), "nearest", "basis") for j in range(len(grid))], axis=1)


@dataclass
class TemperatureFit:
    """Fitted tables at one temperature, with residuals per experiment."""

    temperature_K: float
    soc_grid: np.ndarray
    r0_ohm: np.ndarray
    resistance_ohm: np.ndarray  # (n_rc, n_soc)
    tau_soc_grid: np.ndarray
    time_constant_s: np.ndarray  # (n_rc, n_tau_soc)
    residuals: dict[str, dict[str, float]] = field(default_factory=dict)  # experiment -> rms_V, max_V
    nfev: int = 0
    wall_time_s: float = 0.0
    charge_transfer_voltage_V: np.ndarray | None = None  # b over soc_grid
    charge_transfer_current_A: float | None = None  # I_ct
    concentration_coefficient_V: float | None = None  # k_e
    concentration_time_constant_s: float | None = None  # tau_e
    bounds_hit: list[str] = field(default_factory=list)  # nonlinear parameters that ended at a bound


def _lag(gain: np.ndarray, drive: np.ndarray, continues: np.ndarray) -> np.ndarray:
    """Solve y_k = (1 - g_k) y_(k-1) + g_k u_k for stacked experiments (y = 0 before each one's
    first step: ``continues`` is 0 there): the exact step of :func:`rc_step` for every column of
    ``drive`` at once, as one lower-bidiagonal solve."""
    coupling = (1.0 - gain) * continues
    banded = np.vstack([np.ones_like(coupling), np.append(-coupling[1:], 0.0)])
    return solve_banded((1, 0), banded, gain[:, None] * drive, check_finite=False)


class _Problem:
    """The separable least-squares problem of one temperature.

    Nonlinear parameters (the outer problem, all as logarithms): the time-constant nodes, then
    I_ct (with ``charge_transfer``), then tau_e (with ``concentration``). For fixed values of
    these the voltage is linear in every table node (R0, R_i, b) and in k_e.
    """

    def __init__(self, data: list[FitData], settings: FitSettings) -> None:
        self.data = data
        self.settings = settings
        self.n_soc = len(settings.soc_grid)
        self.n_tau = settings.n_rc * len(settings.tau_soc_grid)
        # per experiment: R0 (and b) basis at the end SOC, RC drive basis at the start SOC, tau basis at the start SOC
        self.end_basis = np.concatenate([_hat_basis(d.soc[1:], settings.soc_grid) for d in data])
        self.current = np.concatenate([d.current_A for d in data])
        self.r0_cols = -self.current[:, None] * self.end_basis
        self.drive = np.concatenate([d.current_A[:, None] * _hat_basis(d.soc[:-1], settings.soc_grid) for d in data])
        self.tau_basis = np.concatenate([_hat_basis(d.soc[:-1], settings.tau_soc_grid) for d in data])
        self.dt_s = np.concatenate([d.dt_s for d in data])
        self.continues = np.concatenate([np.arange(d.dt_s.size) > 0 for d in data]).astype(float)
        self.c_rate = np.concatenate([-3600.0 * np.diff(d.soc) / d.dt_s for d in data])  # I / (Q per hour)
        self.target = np.concatenate([d.voltage_V - d.ocv_V for d in data])  # = -I R0 - sum v_i - overpotentials
        current = np.abs(self.current)
        if not current.max() > 0:
            raise ValueError("data: every experiment is at rest (zero current); nothing to fit")
        self.weight = 1.0 + settings.high_current_weight * (current / current.max()) ** 2
        n = self.target.size
        m = self.n_soc
        curvature = np.zeros((max(m - 2, 0), m))
        for j in range(m - 2):
            curvature[j, j:j + 3] = (1.0, -2.0, 1.0)
        blocks = [curvature] * (1 + settings.n_rc + int(settings.charge_transfer))
        if settings.concentration:
            blocks.append(np.zeros((0, 1)))
        self.penalty = settings.smoothing * np.sqrt(n / max(m, 1)) * block_diag(*blocks)

    def bounds(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Lower and upper bounds of the outer parameters (logs) and their names."""
        s = self.settings
        n_tau = len(s.tau_soc_grid)
        names = [f"rc{i + 1}_time_constant_s[soc={soc:g}]" for i in range(s.n_rc) for soc in s.tau_soc_grid]
        pairs = [b for b in TAU_BOUNDS_S[s.n_rc] for _ in range(n_tau)]
        if s.charge_transfer:
            names.append("charge_transfer_current_A")
            pairs.append(CHARGE_TRANSFER_CURRENT_BOUNDS_A)
        if s.concentration:
            names += ["concentration_time_constant_s"]
            pairs += [CONCENTRATION_TIME_CONSTANT_BOUNDS_S]
        lo, hi = np.log(np.array(pairs, float)).T
        return lo, hi, names

    def _split(self, x: np.ndarray) -> tuple[np.ndarray, float | None, float | None]:
        """(log tau nodes, I_ct or None, tau_e or None)."""
        k = self.n_tau
        i_ct = float(np.exp(x[k])) if self.settings.charge_transfer else None
        tau_e = float(np.exp(x[-1])) if self.settings.concentration else None
        return x[:self.n_tau], i_ct, tau_e

    def design(self, x: np.ndarray) -> np.ndarray:
        """Columns: R0 nodes, each branch's R nodes, then the b nodes; rows: every sample of every experiment.

        A branch's unit-resistance responses obey v_k = a_k v_(k-1) + (1 - a_k) u_k with
        a_k = exp(-dt_k / tau_k) (the exact step of :func:`rc_step`, which defines a_k and 1 - a_k
        here); all experiments are stacked with a_k = 0 at each first step (every experiment starts
        from rest) and the lower-bidiagonal system is solved for all SOC nodes at once.
        """
        s = self.settings
        log_tau, i_ct, tau_e = self._split(x)
        tau_nodes = np.exp(log_tau.reshape(s.n_rc, -1))
        tau = self.tau_basis @ tau_nodes.T  # (n_samples, n_rc)
        gain = rc_step(NUMPY, 0.0, 1.0, 1.0, tau, self.dt_s[:, None])  # 1 - a_k: response to a unit drive
        columns = [self.r0_cols] + [-_lag(gain[:, i], self.drive, self.continues) for i in range(s.n_rc)]
        if i_ct is not None:
            columns.append(-np.arcsinh(self.current / i_ct)[:, None] * self.end_basis)
        if tau_e is not None:  # the concentration state: the twin's rc_step of the C-rate with R = 1
            e = _lag(rc_step(NUMPY, 0.0, 1.0, 1.0, tau_e, self.dt_s), self.c_rate[:, None], self.continues)[:, 0]
            columns.append(-(e ** 3)[:, None])
        return np.concatenate(columns, axis=1)

    def solve_linear(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best table values for these nonlinear parameters and the (data + penalty) residual."""
        a = self.design(x)
        a_aug = np.vstack([a * self.weight[:, None], self.penalty])
        b_aug = np.concatenate([self.target * self.weight, np.zeros(self.penalty.shape[0])])
        q, r = np.linalg.qr(a_aug)  # same minimiser, on a square system: the bounded solve stays small
        res = lsq_linear(r, q.T @ b_aug, bounds=(self.settings.min_resistance_ohm, np.inf), method="bvls")
        return res.x, a_aug @ res.x - b_aug

    def residual(self, x: np.ndarray) -> np.ndarray:
        return self.solve_linear(x)[1]

    def errors(self, x: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Model minus data voltage at every sample (no weights, no penalty)."""
        return self.design(x) @ values - self.target


def fit_temperature(data: list[FitData], temperature_K: float, settings: FitSettings = FitSettings(),
                    tau_initial_s: Sequence[float] | None = None) -> TemperatureFit:
    """Fit R0, R_i (SOC tables) and tau_i (coarse SOC tables), and b, I_ct, k_e, tau_e where the
    settings ask for them, to the experiments at one temperature. ``bounds_hit`` names the
    nonlinear parameters that ended at a bound (reported in the provenance record)."""
    wall = time.perf_counter()
    problem = _Problem(data, settings)
    lo, hi, names = problem.bounds()
    n_tau = len(settings.tau_soc_grid)
    if tau_initial_s is None:
        tau_initial_s = [np.sqrt(a * b) for a, b in TAU_BOUNDS_S[settings.n_rc]]
    x0 = np.concatenate([np.repeat(np.log(np.asarray(tau_initial_s, float)), n_tau),
                         0.5 * (lo + hi)[problem.n_tau:]])
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    with threadpool_limits(limits=1, user_api="blas"):  # tall, thin matrices: threads only contend
        result = least_squares(problem.residual, x0, bounds=(lo, hi), method="trf", x_scale=1.0,
                               diff_step=1e-4, max_nfev=settings.max_nfev)
        values, _ = problem.solve_linear(result.x)
    m = problem.n_soc
    n_rc = settings.n_rc
    _, i_ct, tau_e = problem._split(result.x)
    fit = TemperatureFit(float(temperature_K), np.asarray(settings.soc_grid), values[:m],
                         values[m:m * (1 + n_rc)].reshape(n_rc, m), np.asarray(settings.tau_soc_grid),
                         np.exp(result.x[:problem.n_tau]).reshape(n_rc, n_tau), nfev=int(result.nfev),
                         charge_transfer_voltage_V=values[m * (1 + n_rc):m * (2 + n_rc)] if i_ct is not None else None,
                         charge_transfer_current_A=i_ct,
                         concentration_coefficient_V=float(values[-1]) if tau_e is not None else None,
                         concentration_time_constant_s=tau_e,
                         bounds_hit=[n for n, v, a, b in zip(names, result.x, lo, hi)
                                     if min(v - a, b - v) < 1e-3])
    err_all = problem.errors(result.x, values)
    offset = 0
    for d in data:
        err = err_all[offset:offset + d.dt_s.size]
        offset += d.dt_s.size
        fit.residuals[d.name] = error_summary(err)
    fit.wall_time_s = time.perf_counter() - wall
    return fit
