"""Calibrate a few named parameters of a PyBaMM model to measured constant-current tests.

Step 1 of the reduction pipeline (issue 7): measured data -> calibrated electrochemical model.
The fit is a bounded nonlinear least-squares problem (:func:`scipy.optimize.least_squares`, method
``trf``) on the voltage residual ``model - measured`` at the measured sample times.

Design, from measurements on PyBaMM 26.10:

* The PyBaMM model is built once. Every fitted parameter, the current and the ambient
  temperature are PyBaMM input parameters, so a residual evaluation is one IDAKLU solve with new
  inputs (about 0.3 s for the Ecker2015 DFN, no rebuild). All tests (fit and validation) share
  that one built model.
* A parameter is fitted either as its value (``"Contact resistance [Ohm]"`` -> ``[input]``) or as a
  dimensionless scale factor on the parameter set's own value or function (``"Negative particle
  diffusivity scale factor"`` multiplies ``Negative particle diffusivity [m2.s-1]``, a function
  of stoichiometry and temperature in most sets). Scale factors are optimised in log10.
* The optimiser sees every parameter normalised to [0, 1] over its bounds (linearly for values,
  in log10 for scale factors), so ``x_scale = 1`` and the finite-difference step ``diff_step``
  is a fixed fraction of each bound range. The Jacobian is by forward differences; the solver
  tolerances (default rtol 1e-8) keep the solver noise far below the difference quotients
  (with rtol 1e-6 the derivative of the Ecker2015 DFN voltage carries ~3 % noise at a step of
  1e-4; PyBaMM's IDAKLU forward sensitivities failed to converge at rtol 1e-8 for this model).
* A solve that fails, or ends at a termination event (voltage cut-off) before the last sample,
  gives :data:`FAILED_RESIDUAL_V` at each sample it did not reach: large and finite, never NaN.
* Before fitting, the thermal model is chosen by the tests' conditions (isothermal unless the
  lumped model heats the cell by more than ``max_isothermal_rise_K`` in one of them: a 5C discharge
  of the Ecker2015 pouch cell, 1.3 K; 1C, 0.1 K) and the mesh is refined (every count doubled) until
  the voltage at the samples changes by less than ``mesh_tolerance_V`` RMS; both are recorded.

Sign convention: positive current discharges the cell (fmutwin's convention and PyBaMM's
``Current function [A]``).
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from fmutwin.data import data_dir, load_csv
from fmutwin.provenance import file_sha256
from fmutwin.reduction.ecm_fit import error_summary

CURRENT_INPUT = "Current function [A]"
AMBIENT_INPUT = "Ambient temperature [K]"
INITIAL_TEMPERATURE_INPUT = "Initial temperature [K]"
VOLTAGE = "Voltage [V]"
TEMPERATURE = "Volume-averaged cell temperature [K]"
#: mesh counts the convergence check starts from (the model's defaults, or the caller's) and doubles
MESH_KEYS = ("x_n", "x_s", "x_p", "r_n", "r_p")

#: suffix that turns a parameter name into a dimensionless multiplier of that parameter
SCALE_SUFFIX = " scale factor"
#: residual [V] at every sample a failed or early-terminated solve did not reach
FAILED_RESIDUAL_V = 1.0
#: model options a fitted parameter needs to have any effect
REQUIRED_OPTIONS: dict[str, dict[str, str]] = {"Contact resistance [Ohm]": {"contact resistance": "true"}}
#: relative spread of current / temperature over a test accepted as "constant"
CONSTANT_CURRENT_RTOL = 0.01
CONSTANT_TEMPERATURE_ATOL_K = 0.5
#: the optimiser starts at least this fraction of a parameter's range inside its bounds: scipy's
#: ``trf`` scales its steps by the distance to a bound, so a start on a bound stays there (measured:
#: a contact resistance started at its lower bound 0 Ohm stayed at 3e-9 Ohm, 36 mV RMS, where a
#: start at 5 % of the range found the true 0.05 Ohm)
START_INSIDE = 0.01

ECKER2015_1C_FILE = "measured/Ecker2015_1C_discharge.csv"


def _pybamm() -> Any:
    import pybamm

    return pybamm


# -- measured data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasuredDischarge:
    """One constant-current test: samples of voltage under a known current and temperature.

    ``time_s`` counts from the start of the test (t = 0 s is when the current is switched on and
    the cell is in its initial state); samples may start later and may be a window of the test
    (:meth:`window`), the model is always simulated from t = 0. ``current_A`` is positive for a
    discharge (fmutwin's convention). ``current_A`` and ``temperature_K`` may be given as
    scalars; they are stored as arrays like ``time_s``. ``source_path`` / ``source_sha256`` name
    the file the data was read from (``None`` for generated data).

    Raises ValueError naming the field for NaN/inf values, non-increasing or negative time,
    mismatched lengths or fewer than 2 samples.
    """

    name: str
    time_s: np.ndarray
    voltage_V: np.ndarray
    current_A: np.ndarray
    temperature_K: np.ndarray
    source_path: str | None = None
    source_sha256: str | None = None
    window_s: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        time_s = np.asarray(self.time_s, dtype=float)
        if time_s.ndim != 1 or time_s.size < 2:
            raise ValueError(f"{self.name}: time_s must be a 1-D array of at least 2 samples, got shape {time_s.shape}")
        arrays = {"time_s": time_s}
        for name in ("voltage_V", "current_A", "temperature_K"):
            value = np.asarray(getattr(self, name), dtype=float)
            if value.ndim == 0:
                value = np.full(time_s.shape, float(value))
            if value.shape != time_s.shape:
                raise ValueError(f"{self.name}: {name} has shape {value.shape}, time_s has {time_s.shape}")
            arrays[name] = value
        for name, value in arrays.items():
            bad = np.flatnonzero(~np.isfinite(value))
            if bad.size:
                raise ValueError(f"{self.name}: {name} is not finite at {bad.size} sample(s) "
                                 f"(first at index {bad[0]}: {value[bad[0]]})")
        steps = np.diff(time_s)
        if np.any(steps <= 0):
            k = int(np.flatnonzero(steps <= 0)[0])
            raise ValueError(f"{self.name}: time_s is not strictly increasing (index {k}: {time_s[k]} s, "
                             f"index {k + 1}: {time_s[k + 1]} s)")
        if time_s[0] < 0:
            raise ValueError(f"{self.name}: time_s starts at {time_s[0]} s < 0 (t = 0 s is the start of the test)")
        if np.any(arrays["temperature_K"] <= 0):
            raise ValueError(f"{self.name}: temperature_K must be > 0 K")
        for name, value in arrays.items():
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def test_current_A(self) -> float:
        """The constant current of the test [A] (mid-range of the samples; positive = discharge).

        ValueError if the current varies by more than :data:`CONSTANT_CURRENT_RTOL`: the
        calibration runs constant-current tests only.
        """
        mean = 0.5 * float(np.min(self.current_A) + np.max(self.current_A))  # exact for a constant array
        spread = float(np.ptp(self.current_A))
        if spread > CONSTANT_CURRENT_RTOL * max(abs(mean), 1e-12):
            raise ValueError(f"{self.name}: current_A varies by {spread:.4g} A around {mean:.4g} A; "
                             f"calibration supports constant-current tests only")
        return mean

    @property
    def test_temperature_K(self) -> float:
        """The constant temperature of the test [K] (mid-range; ValueError if it spreads by more than
        :data:`CONSTANT_TEMPERATURE_ATOL_K`)."""
        spread = float(np.ptp(self.temperature_K))
        if spread > CONSTANT_TEMPERATURE_ATOL_K:
            raise ValueError(f"{self.name}: temperature_K varies by {spread:.3g} K; calibration runs the "
                             f"isothermal model at one temperature per test")
        return 0.5 * float(np.min(self.temperature_K) + np.max(self.temperature_K))

    def window(self, start_s: float, end_s: float, name: str | None = None) -> MeasuredDischarge:
        """The samples with ``start_s <= time_s <= end_s`` (same source, same time axis; ``end_s``
        may be ``inf``, recorded as ``None``)."""
        keep = (self.time_s >= start_s) & (self.time_s <= end_s)
        return MeasuredDischarge(name=name or f"{self.name}[{start_s:g}-{end_s:g} s]",
                                 time_s=self.time_s[keep], voltage_V=self.voltage_V[keep],
                                 current_A=self.current_A[keep], temperature_K=self.temperature_K[keep],
                                 source_path=self.source_path, source_sha256=self.source_sha256,
                                 window_s=(float(start_s), float(end_s)))

    def to_record(self) -> dict[str, Any]:
        """JSON-serialisable description (no samples): name, source file and hash, window, test conditions.

        The file is a ``{"path", "sha256", "role"}`` object (``None`` for generated data), the form
        :mod:`fmutwin.provenance` re-hashes to report stale records.
        """
        file = ({"path": self.source_path, "sha256": self.source_sha256, "role": f"measured data {self.name}"}
                if self.source_path is not None and self.source_sha256 is not None else None)
        return {"name": self.name, "file": file,
                "window_s": [t if np.isfinite(t) else None for t in self.window_s] if self.window_s else None,
                "samples": int(self.time_s.size),
                "time_range_s": [float(self.time_s[0]), float(self.time_s[-1])],
                "current_A": self.test_current_A, "temperature_K": self.test_temperature_K}


def load_measured_discharge(relative_path: str, current_A: float, temperature_K: float,
                            name: str | None = None) -> MeasuredDischarge:
    """A constant-current test from a CSV of the shared data folder (columns time [s], voltage [V]).

    The file is read with :func:`fmutwin.data.load_csv` (``#`` comment lines skipped);
    ``current_A`` (positive = discharge) and ``temperature_K`` describe the test, since the file
    does not carry them. The file's path and SHA-256 are kept for provenance.
    """
    path = data_dir() / relative_path
    table = load_csv(relative_path)
    return MeasuredDischarge(name=name or Path(relative_path).stem, time_s=table[:, 0], voltage_V=table[:, 1],
                             current_A=current_A, temperature_K=temperature_K,
                             source_path=str(path), source_sha256=file_sha256(path))


def ecker2015_1c_discharge() -> MeasuredDischarge:
    """The measured 1C discharge of the Kokam cell described by PyBaMM's ``Ecker2015`` set.

    As in PyBaMM's ``compare-ecker-data`` example (and tests/twins/test_cell_echem.py): current
    = 1 x ``Nominal cell capacity [A.h]`` of the parameter set, raw time axis of the data, and the
    parameter set's ambient temperature (the file carries no temperature).
    """
    values = _pybamm().ParameterValues("Ecker2015")
    return load_measured_discharge(ECKER2015_1C_FILE, current_A=1.0 * float(values["Nominal cell capacity [A.h]"]),
                                   temperature_K=float(values[AMBIENT_INPUT]), name="Ecker2015_1C_discharge")


# -- fitted parameters -------------------------------------------------------------------------


@dataclass(frozen=True)
class FittedParameter:
    """One fitted parameter: how it enters PyBaMM and its bounds.

    ``kind`` is ``"value"`` (the PyBaMM parameter ``pybamm_name`` itself, optimised linearly) or
    ``"scale"`` (a dimensionless factor on the parameter set's ``pybamm_name``, optimised in log10).
    """

    name: str
    pybamm_name: str
    kind: str
    initial: float
    lower: float
    upper: float

    @property
    def input_name(self) -> str:
        """Name of the PyBaMM input parameter carrying this value."""
        return self.name if self.kind == "scale" else self.pybamm_name

    def to_unit(self, value: np.ndarray | float) -> np.ndarray:
        """Map a value to the optimiser's [0, 1] coordinate (log10 for scale factors)."""
        value = np.asarray(value, dtype=float)
        if self.kind == "scale":
            return np.log10(value / self.lower) / np.log10(self.upper / self.lower)
        return (value - self.lower) / (self.upper - self.lower)

    def unit_derivative(self, value: float) -> float:
        """d(value)/d(unit coordinate) at ``value``, to carry uncertainties back to the parameter's units."""
        if self.kind == "scale":
            return float(value * np.log(self.upper / self.lower))
        return float(self.upper - self.lower)

    def from_unit(self, unit: float) -> float:
        """Inverse of :meth:`to_unit`."""
        if self.kind == "scale":
            return float(self.lower * (self.upper / self.lower) ** unit)
        return float(self.lower + unit * (self.upper - self.lower))


def _resolve_parameters(values: Any, parameters: Mapping[str, tuple[float, float, float]],
                        parameter_set: str) -> list[FittedParameter]:
    """Check names and bounds; ValueError naming the parameter (with close matches for unknown names)."""
    if not parameters:
        raise ValueError("parameters is empty: name at least one parameter to fit")
    keys = list(values.keys())
    resolved = []
    for name, bounds in parameters.items():
        if name.endswith(SCALE_SUFFIX):
            base = name[: -len(SCALE_SUFFIX)]
            matches = [k for k in keys if k == base] or [k for k in keys if k.split(" [")[0] == base]
            kind = "scale"
        else:
            matches = [name] if name in keys else []
            kind = "value"
        if len(matches) != 1:
            pool = keys + [k.split(" [")[0] + SCALE_SUFFIX for k in keys]
            close = difflib.get_close_matches(name, pool, n=5, cutoff=0.6)
            raise ValueError(f"unknown parameter {name!r} for parameter set {parameter_set!r}; close matches: "
                             f"{', '.join(repr(c) for c in close) or 'none'} (a name ending in {SCALE_SUFFIX!r} "
                             f"fits a multiplier of the parameter of that name)")
        try:
            initial, lower, upper = (float(b) for b in bounds)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameter {name!r}: expected (initial, lower, upper), got {bounds!r}") from exc
        if not all(np.isfinite([initial, lower, upper])):
            raise ValueError(f"parameter {name!r}: initial and bounds must be finite, got {bounds!r}")
        if not lower < upper:
            raise ValueError(f"parameter {name!r}: lower bound {lower} must be below upper bound {upper}")
        if not lower <= initial <= upper:
            raise ValueError(f"parameter {name!r}: initial value {initial} is outside the bounds [{lower}, {upper}]")
        if kind == "scale" and lower <= 0:
            raise ValueError(f"parameter {name!r}: a scale factor needs a lower bound > 0 (fitted in log10), "
                             f"got {lower}")
        if kind == "value" and callable(values[matches[0]]):
            raise ValueError(f"parameter {name!r} is a function in {parameter_set!r}; fit "
                             f"{matches[0].split(' [')[0] + SCALE_SUFFIX!r} instead")
        resolved.append(FittedParameter(name, matches[0], kind, initial, lower, upper))
    return resolved


class ScaledFunction:
    """``factor`` times a PyBaMM parameter function (PyBaMM calls it with its symbols).

    A class rather than a closure so that calibrated parameter values can be pickled (the
    reduction pipeline simulates in worker processes) and show their factor in records.
    """

    def __init__(self, original: Any, factor: float) -> None:
        self.original = original
        self.factor = factor

    def __call__(self, *args: Any) -> Any:
        return self.factor * self.original(*args)

    def __repr__(self) -> str:
        return f"{self.factor!r} x {getattr(self.original, '__qualname__', repr(self.original))}"


def _scaled(original: Any, factor: Any) -> Any:
    """``factor`` times a parameter value or function."""
    return ScaledFunction(original, factor) if callable(original) else factor * original


def base_values(parameter_set: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """The parameter set with the user's own changes: what a calibration starts from."""
    values = _pybamm().ParameterValues(parameter_set)
    values.update(dict(overrides or {}))
    return values


def overrides_for(parameter_set: str, fitted: Sequence[FittedParameter], values: Sequence[float],
                  base_overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """PyBaMM parameter values for ``fitted`` at ``values``: numbers for value parameters, the
    base value or function (parameter set plus ``base_overrides``) times the factor for scale
    factors (several factors on one parameter multiply)."""
    base = base_values(parameter_set, base_overrides)
    out: dict[str, Any] = {}
    for p, v in zip(fitted, values):
        if p.kind == "value":
            out[p.pybamm_name] = float(v)
        else:
            out[p.pybamm_name] = _scaled(out.get(p.pybamm_name, base[p.pybamm_name]), float(v))
    return out


# -- the model, built once ---------------------------------------------------------------------


class _ModelRunner:
    """A PyBaMM model built once with the fitted parameters, current and temperature as inputs."""

    def __init__(self, model: str, values: Any, options: Mapping[str, str], fitted: Sequence[FittedParameter],
                 data: MeasuredDischarge, initial_soc: float | None, var_pts: Mapping[str, int] | None,
                 rtol: float, atol: float, outputs: Sequence[str] = (VOLTAGE,)) -> None:
        pybamm = _pybamm()
        self.fitted = list(fitted)
        updates: dict[str, Any] = {CURRENT_INPUT: "[input]", AMBIENT_INPUT: "[input]",
                                   INITIAL_TEMPERATURE_INPUT: "[input]"}
        for p in self.fitted:
            if p.kind == "value":
                updates[p.pybamm_name] = "[input]"
            else:
                current = updates.get(p.pybamm_name, values[p.pybamm_name])
                updates[p.pybamm_name] = _scaled(current, pybamm.InputParameter(p.input_name))
        values.update(updates)
        self.model = getattr(pybamm.lithium_ion, model)(options=dict(options))
        self.solver = pybamm.IDAKLUSolver(rtol=rtol, atol=atol, output_variables=list(outputs))
        self.simulation = pybamm.Simulation(self.model, parameter_values=values, solver=self.solver,
                                            var_pts=dict(var_pts) if var_pts else None)
        self.simulation.build(initial_soc=initial_soc,
                              inputs=self.inputs([p.initial for p in self.fitted], data.test_current_A,
                                                 data.test_temperature_K))
        self.built_model = self.simulation.built_model
        used = {s.name for s in self.built_model.input_parameters}
        unused = [p.name for p in self.fitted if p.input_name not in used]
        if unused:
            raise ValueError(f"parameter(s) {unused} do not enter the {model} model with options {dict(options)}; "
                             f"nothing to fit")

    def inputs(self, values: Sequence[float], current_A: float, temperature_K: float) -> dict[str, float]:
        out = {p.input_name: float(v) for p, v in zip(self.fitted, values)}
        out.update({CURRENT_INPUT: float(current_A), AMBIENT_INPUT: float(temperature_K),
                    INITIAL_TEMPERATURE_INPUT: float(temperature_K)})
        return out

    def simulate(self, values: Sequence[float], data: MeasuredDischarge, variable: str = VOLTAGE
                 ) -> np.ndarray | None:
        """``variable`` at the samples of ``data`` (NaN after a termination event), or None when
        the solve failed."""
        pybamm = _pybamm()
        try:
            solution = self.solver.solve(self.built_model, t_eval=np.array([0.0, data.time_s[-1]]),
                                         t_interp=data.time_s,
                                         inputs=self.inputs(values, data.test_current_A, data.test_temperature_K))
        except pybamm.SolverError:
            return None
        t = np.asarray(solution.t, dtype=float)
        series = np.asarray(solution[variable].data, dtype=float).ravel()
        out = np.full(data.time_s.shape, np.nan)
        reached = data.time_s <= t[-1]
        out[reached] = np.interp(data.time_s[reached], t, series)
        return out

    def residual_V(self, values: Sequence[float], data: MeasuredDischarge) -> np.ndarray:
        """Model minus measured voltage at the samples of ``data`` [V] (see :func:`residual_of`)."""
        return residual_of(self.simulate(values, data), data)


def residual_of(voltage: np.ndarray | None, data: MeasuredDischarge) -> np.ndarray:
    """``voltage`` (from :meth:`_ModelRunner.simulate`) minus the measured voltage [V];
    :data:`FAILED_RESIDUAL_V` where the solve failed or had stopped (a termination event) before
    the sample."""
    if voltage is None:
        return np.full(data.time_s.shape, FAILED_RESIDUAL_V)
    residual = voltage - data.voltage_V
    residual[~np.isfinite(residual)] = FAILED_RESIDUAL_V
    return residual


# -- result --------------------------------------------------------------------------------------


@dataclass
class CalibrationResult:
    """Fitted values, fit residuals and validation errors of :func:`calibrate`.

    ``values`` / ``initial_values`` / ``bounds`` / ``standard_errors`` are keyed by the names given
    to :func:`calibrate`; ``validation`` maps each validation test's name to ``{"rms_V", "max_V"}``.
    ``at_bound`` names the parameters that ended on one of their bounds (the data pulls them
    further: widen the bounds or question the model). ``standard_errors`` are the linearised
    estimates ``sqrt(diag(s^2 (J^T J)^-1))`` over the other parameters at the solution (``s^2`` =
    residual sum of squares / (samples - free parameters)), in the parameter's units; ``None``
    for a parameter on a bound, without degrees of freedom or for a singular ``J^T J``. They
    assume independent noise and a correct model: on measured data they understate the
    uncertainty whenever the residual is model error.
    """

    model: str
    model_options: dict[str, str]
    parameter_set: str
    base_overrides: dict[str, Any]
    initial_soc: float | None
    parameters: list[FittedParameter]
    values: dict[str, float]
    standard_errors: dict[str, float | None]
    at_bound: list[str]
    fit_data: MeasuredDischarge
    fit_residual_V: np.ndarray
    initial_residual_V: np.ndarray
    validation_data: list[MeasuredDischarge]
    validation: dict[str, dict[str, float]]
    validation_initial: dict[str, dict[str, float]]  # the same tests at the initial (uncalibrated) values
    identifiability: dict[str, Any]  # see identifiability()
    thermal: dict[str, Any]  # the thermal model and why (see choose_thermal())
    mesh: dict[str, Any]  # the mesh and its convergence check (see converged_mesh())
    nfev: int
    wall_time_s: float
    least_squares_settings: dict[str, Any]
    status: int
    message: str
    solver_settings: dict[str, Any]

    @property
    def initial_values(self) -> dict[str, float]:
        return {p.name: p.initial for p in self.parameters}

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        return {p.name: (p.lower, p.upper) for p in self.parameters}

    @property
    def fit_rms_V(self) -> float:
        """RMS of model - measured voltage over the fit data at the fitted values [V]."""
        return error_summary(self.fit_residual_V)["rms_V"]

    @property
    def fit_max_V(self) -> float:
        """Largest absolute voltage error over the fit data at the fitted values [V]."""
        return error_summary(self.fit_residual_V)["max_V"]

    @property
    def initial_rms_V(self) -> float:
        """RMS over the fit data at the initial values [V] (the starting point of the fit)."""
        return error_summary(self.initial_residual_V)["rms_V"]

    def parameter_overrides(self) -> dict[str, Any]:
        """The calibrated values as PyBaMM parameter values, for ``pybamm.ParameterValues.update``
        or ``CellEchemTwin(parameter_overrides=...)``.

        Value parameters map to numbers; a scale factor maps its parameter to the parameter
        set's value or function times the factor. The model must be built with
        :attr:`model_options` (e.g. a contact resistance has no effect without
        ``{"contact resistance": "true"}``).
        """
        return overrides_for(self.parameter_set, self.parameters, [self.values[p.name] for p in self.parameters],
                             self.base_overrides)

    def to_record(self) -> dict[str, Any]:
        """JSON-serialisable provenance record of the calibration."""
        return {
            "step": "calibrate",
            "model": self.model,
            "model_options": dict(self.model_options),
            "parameter_set": self.parameter_set,
            "parameter_overrides": {k: v if isinstance(v, (int, float, str)) else repr(v)
                                    for k, v in self.base_overrides.items()},
            "initial_soc": self.initial_soc,
            "solver": dict(self.solver_settings),
            "data": self.fit_data.to_record(),
            "fitted": dict(self.values),
            "parameters": [{"name": p.name, "pybamm_name": p.pybamm_name, "kind": p.kind,
                            "initial": p.initial, "lower": p.lower, "upper": p.upper,
                            "value": self.values[p.name], "standard_error": self.standard_errors[p.name],
                            "at_bound": p.name in self.at_bound}
                           for p in self.parameters],
            "method": {"name": "scipy.optimize.least_squares", "settings": dict(self.least_squares_settings),
                       "variables": "each parameter normalised to [0, 1] over its bounds "
                                    "(linear for values, log10 for scale factors)",
                       "residual": "model - measured voltage [V] at the measured sample times",
                       "nfev": self.nfev, "status": self.status, "message": self.message,
                       "wall_time_s": self.wall_time_s},
            "residuals": {"fit": error_summary(self.fit_residual_V), "initial": error_summary(self.initial_residual_V)},
            "validation": [{"data": d.to_record(), **self.validation[d.name],
                            "uncalibrated": self.validation_initial[d.name]} for d in self.validation_data],
            "identifiability": self.identifiability,
            "thermal": self.thermal,
            "mesh": self.mesh,
        }

    def parameter_options(self) -> dict[str, str]:
        """The model options the calibrated values need wherever they are used (a contact
        resistance's), without the thermal model chosen for the calibration's own tests."""
        chosen_here = self.thermal.get("chosen_by") != "model_options"
        return {k: v for k, v in self.model_options.items() if not (k == "thermal" and chosen_here)}

    def worse_on_validation(self) -> list[str]:
        """The validation tests on which the calibrated model is worse (RMS) than the uncalibrated one."""
        return [name for name, err in self.validation.items() if err["rms_V"] > self.validation_initial[name]["rms_V"]]


def _standarderror_summary(fitted: Sequence[FittedParameter], values: Sequence[float], jac_unit: np.ndarray,
                     residual_V: np.ndarray, at_bound: np.ndarray) -> dict[str, float | None]:
    """Linearised standard errors of the fitted values, in their own units (see CalibrationResult).

    Computed over the parameters not on a bound (scipy reports zero Jacobian columns for those).
    """
    free = np.flatnonzero(~at_bound)
    out: dict[str, float | None] = {p.name: None for p in fitted}
    dof = residual_V.size - free.size
    if free.size == 0 or dof <= 0:
        return out
    jtj = jac_unit[:, free].T @ jac_unit[:, free]
    if np.linalg.matrix_rank(jtj) < free.size:
        return out
    unit_sigma = np.sqrt(float(residual_V @ residual_V) / dof * np.diag(np.linalg.inv(jtj)))
    for k, sigma in zip(free, unit_sigma):
        error = float(sigma * abs(fitted[k].unit_derivative(values[k])))
        out[fitted[k].name] = error if np.isfinite(error) else None
    return out


# -- the fit ---------------------------------------------------------------------------------


def identifiability(residual: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, names: Sequence[str],
                    step: float, min_sensitivity_V: float, max_correlation: float) -> dict[str, Any]:
    """What the data can determine, before fitting: forward-difference sensitivities at ``x0``
    (the normalised start, one solve per parameter) and the correlations of the linearised
    estimates, ``(J^T J)^-1`` scaled to unit diagonal.

    ``sensitivity_V``: RMS voltage change per whole bound range. A parameter below
    ``min_sensitivity_V``, and the less sensitive of every pair correlated beyond
    ``max_correlation``, is ``not_identifiable`` (with the reason): the fit leaves it at its initial
    value.
    """
    r0 = residual(x0)
    columns = []
    for k in range(x0.size):
        h = step if x0[k] + step <= 1.0 else -step
        x = x0.copy()
        x[k] += h
        columns.append((residual(x) - r0) / h)
    jac = np.stack(columns, axis=1) if columns else np.zeros((r0.size, 0))
    sensitivity = np.sqrt(np.mean(jac ** 2, axis=0))
    reasons: dict[str, str] = {names[k]: f"sensitivity {sensitivity[k]:.3g} V over its range < {min_sensitivity_V:g} V"
                               for k in range(x0.size) if sensitivity[k] < min_sensitivity_V}
    correlation = np.full((x0.size, x0.size), np.nan)
    keep = [k for k in range(x0.size) if names[k] not in reasons]
    if keep:
        jtj = jac[:, keep].T @ jac[:, keep]
        cov = np.linalg.pinv(jtj)
        d = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
        sub = cov / np.outer(d, d)
        for a, i in enumerate(keep):
            for b, j in enumerate(keep):
                correlation[i, j] = sub[a, b]
        for a, i in enumerate(keep):
            for b in range(a + 1, len(keep)):
                j = keep[b]
                if abs(sub[a, b]) > max_correlation and names[i] not in reasons and names[j] not in reasons:
                    weaker, stronger = (i, j) if sensitivity[i] < sensitivity[j] else (j, i)
                    reasons[names[weaker]] = f"correlation {sub[a, b]:+.4f} with {names[stronger]!r}"
    return {"names": list(names), "sensitivity_V": [float(v) for v in sensitivity],
            "correlation": [[None if np.isnan(v) else float(v) for v in row] for row in correlation],
            "not_identifiable": reasons, "min_sensitivity_V": min_sensitivity_V, "max_correlation": max_correlation}


class MeshNotConverged(UserWarning):
    """The mesh convergence check ran out of refinements (or a finer mesh failed to solve)."""


def choose_thermal(make_runner: Callable[[Mapping[str, str]], _ModelRunner], options: Mapping[str, str],
                   tests: Sequence[MeasuredDischarge], values: Sequence[float], thermal: str,
                   max_isothermal_rise_K: float) -> tuple[dict[str, str], dict[str, Any]]:
    """The model options with the thermal model the tests need, and the record of the choice.

    ``thermal``: ``"isothermal"`` or ``"lumped"`` as given; ``"auto"``: the lumped model is run on
    every test at ``values`` (the initial ones) and chosen if the cell warms by more than
    ``max_isothermal_rise_K`` in any of them (its volume-averaged temperature above the test's).
    A ``"thermal"`` model option, if given, is kept as it is. The isothermal model is PyBaMM's
    default: it adds no option.
    """
    options = dict(options)
    if "thermal" in options:
        return options, {"model": options["thermal"], "chosen_by": "model_options"}
    if thermal not in ("auto", "isothermal", "lumped"):
        raise ValueError(f"thermal must be 'auto', 'isothermal' or 'lumped', got {thermal!r}")
    if thermal != "auto":
        if thermal == "lumped":
            options["thermal"] = thermal
        return options, {"model": thermal, "chosen_by": "thermal argument"}
    runner = make_runner({**options, "thermal": "lumped"})
    rise: dict[str, float | None] = {}
    for test in tests:
        temperature = runner.simulate(values, test, TEMPERATURE)
        rise[test.name] = (None if temperature is None or not np.isfinite(temperature).any() else
                           float(np.nanmax(temperature) - test.test_temperature_K))
    warm = [name for name, r in rise.items() if r is not None and r > max_isothermal_rise_K]
    if warm:
        options["thermal"] = "lumped"
    return options, {"model": "lumped" if warm else "isothermal", "chosen_by": "temperature rise of the lumped model",
                     "rise_K": rise, "max_isothermal_rise_K": max_isothermal_rise_K, "warming_tests": warm}


def converged_mesh(make_runner: Callable[[Mapping[str, int]], _ModelRunner], start: Mapping[str, int],
                   tests: Sequence[MeasuredDischarge], values: Sequence[float], tolerance_V: float,
                   max_refinements: int) -> tuple[_ModelRunner, dict[str, Any], list[np.ndarray | None]]:
    """The runner on the coarsest mesh whose voltages (at every test's samples, at ``values``)
    change by less than ``tolerance_V`` RMS when every mesh count is doubled, the record of the
    check, and that runner's voltages per test (None where a solve failed). Without convergence
    within ``max_refinements`` (or when a finer mesh fails to solve) the finest mesh that solved
    is used, with a :class:`MeshNotConverged` warning."""
    import warnings

    def solved(runner: _ModelRunner) -> tuple[list[np.ndarray | None], np.ndarray | None]:
        """The runner's voltages per test, and all of them together (None if a solve failed)."""
        parts = [runner.simulate(values, test) for test in tests]
        return parts, None if any(p is None for p in parts) else np.concatenate(parts)

    pts = dict(start)
    runner = make_runner(pts)
    kept, coarse = solved(runner)
    checks: list[dict[str, Any]] = []
    record: dict[str, Any] = {"checked": True, "tolerance_V": tolerance_V, "checks": checks,
                              "compared": "voltage at every test's samples, at the initial values, each mesh count "
                                          "doubled"}
    for _ in range(max_refinements):
        finer = {key: 2 * n for key, n in pts.items()}
        fine_runner = make_runner(finer)
        parts, fine = solved(fine_runner)
        if coarse is None or fine is None:
            checks.append({"var_pts": finer, "error": "a solve failed on " + ("the coarser" if coarse is None
                                                                                else "this") + " mesh"})
            if coarse is None and fine is not None:
                pts, runner, coarse, kept = finer, fine_runner, fine, parts
                continue
            break
        both = np.isfinite(coarse) & np.isfinite(fine)
        change = fine[both] - coarse[both]
        reached_alike = bool(np.array_equal(np.isfinite(coarse), np.isfinite(fine)))
        rms = float(np.sqrt(np.mean(change ** 2))) if change.size else float("inf")
        checks.append({"var_pts": finer, "rms_change_V": rms,
                       "max_change_V": float(np.max(np.abs(change))) if change.size else None,
                       "same_samples_reached": reached_alike})
        if rms < tolerance_V and reached_alike:
            return runner, {**record, "var_pts": pts, "converged": True}, kept
        pts, runner, coarse, kept = finer, fine_runner, fine, parts
    warnings.warn(f"mesh not converged to {tolerance_V * 1e3:g} mV within {max_refinements} refinements "
                  f"({checks[-1] if checks else 'no check'}); the mesh {pts} is used", MeshNotConverged,
                  stacklevel=3)
    return runner, {**record, "var_pts": pts, "converged": False}, kept


def calibrate(model: str = "DFN", parameter_set: str = "Ecker2015", data: MeasuredDischarge | None = None,
              parameters: Mapping[str, tuple[float, float, float]] | None = None,
              validation: Sequence[MeasuredDischarge] = (), model_options: Mapping[str, str] | None = None,
              parameter_overrides: Mapping[str, Any] | None = None,
              initial_soc: float | None = None, var_pts: Mapping[str, int] | None = None,
              rtol: float = 1e-8, atol: float = 1e-10, max_nfev: int = 60, diff_step: float = 1e-3,
              ftol: float = 1e-8, xtol: float = 1e-6, gtol: float = 1e-8,
              prior_weight_V: float = 0.0, min_sensitivity_V: float = 1e-3, max_correlation: float = 0.99,
              thermal: str = "auto", max_isothermal_rise_K: float = 1.0,
              mesh_tolerance_V: float | None = 1e-3, max_mesh_refinements: int = 2,
              progress: Callable[[int, float], None] | None = None) -> CalibrationResult:
    """Fit named parameters of a PyBaMM model to a measured constant-current test.

    Parameters
    ----------
    model:
        ``"SPM"``, ``"SPMe"`` or ``"DFN"`` (``pybamm.lithium_ion.*``), at each test's temperature
        (ambient and initial), isothermal or with a lumped thermal model (``thermal``).
    parameter_set:
        A PyBaMM parameter-set name.
    data:
        The fit data (default: :func:`ecker2015_1c_discharge`).
    parameters:
        ``{name: (initial, lower, upper)}``. ``name`` is a PyBaMM parameter name (e.g.
        ``"Contact resistance [Ohm]"``, fitted as its value) or a PyBaMM name with or without
        its unit followed by ``" scale factor"`` (e.g. ``"Negative particle diffusivity scale
        factor"``, a multiplier of the parameter set's value or function, lower bound > 0).
    validation:
        Further tests not used in the fit; each gets the RMS and max error at the fitted values.
    model_options:
        PyBaMM model options; options a fitted parameter needs (:data:`REQUIRED_OPTIONS`) are added.
    parameter_overrides:
        Changes to the parameter set made before fitting (the fit starts from, and scale factors
        multiply, these values).
    initial_soc:
        Initial SOC of every test, or ``None`` for the parameter set's initial concentrations.
    var_pts, rtol, atol:
        Mesh (the counts the convergence check starts from; default the model's own) and IDAKLU
        tolerances.
    max_nfev, diff_step, ftol, xtol, gtol:
        :func:`scipy.optimize.least_squares` settings (``diff_step`` is the forward-difference
        step as a fraction of each parameter's bound range).
    prior_weight_V, min_sensitivity_V, max_correlation:
        Identifiability and regularisation (see :func:`identifiability`): a parameter whose
        voltage sensitivity over its whole bound range is below ``min_sensitivity_V`` (RMS over
        the samples), or that correlates with a more sensitive one beyond ``max_correlation``, is
        not fitted and stays at its initial value (the parameter set's value: the prior). Each
        fitted parameter's distance from its initial value, as a fraction of its bound range,
        adds a residual ``prior_weight_V * sqrt(samples) * distance``: a move across the whole
        range costs as much as ``prior_weight_V`` of RMS error.
    thermal, max_isothermal_rise_K:
        ``"auto"`` (default): the lumped thermal model if it predicts that a test (fitted or
        validation) warms the cell by more than ``max_isothermal_rise_K`` at the initial values,
        else isothermal; or ``"isothermal"`` / ``"lumped"``. A ``"thermal"`` entry in
        ``model_options`` wins. The choice and the predicted rises are recorded.
    mesh_tolerance_V, max_mesh_refinements:
        Mesh convergence (:func:`converged_mesh`): every mesh count is doubled (at most
        ``max_mesh_refinements`` times) until the voltages at all tests' samples change by less
        than ``mesh_tolerance_V`` RMS; the coarser mesh of that pair is used and recorded.
        ``None``: no check, the mesh as given (e.g. for data generated on that mesh).
    progress:
        Called with (evaluation count, RMS [V]) after every residual evaluation.

    Raises ValueError for unknown names (listing close matches), bad bounds, bad data and
    non-constant tests.
    """
    from scipy.optimize import least_squares

    pybamm = _pybamm()
    if model not in ("SPM", "SPMe", "DFN"):
        raise ValueError(f"unknown model {model!r}; valid models: SPM, SPMe, DFN")
    if parameter_set not in pybamm.parameter_sets:
        close = difflib.get_close_matches(parameter_set, list(pybamm.parameter_sets), n=5, cutoff=0.6)
        raise ValueError(f"unknown parameter set {parameter_set!r}; close matches: "
                         f"{', '.join(repr(c) for c in close) or 'none'}")
    if data is None:
        data = ecker2015_1c_discharge()
    for d in (data, *validation):  # constant-current checks before any build
        _ = d.test_current_A, d.test_temperature_K
    names = [d.name for d in (data, *validation)]
    if len(set(names)) != len(names):
        raise ValueError(f"test names must be unique: {names}")
    start = base_values(parameter_set, parameter_overrides)
    fitted = _resolve_parameters(start, parameters or {}, parameter_set)
    options = dict(model_options or {})
    for p in fitted:
        for key, value in REQUIRED_OPTIONS.get(p.pybamm_name, {}).items():
            if options.setdefault(key, value) != value:
                raise ValueError(f"parameter {p.name!r} needs model option {key!r} = {value!r}, got {options[key]!r}")

    wall = time.perf_counter()
    tests = [data, *validation]
    x0 = np.array([float(p.to_unit(p.initial)) for p in fitted])
    initial = [p.from_unit(u) for p, u in zip(fitted, x0)]  # the start as the optimiser's coordinates give it
    options, thermal_record = choose_thermal(
        lambda opts: _ModelRunner(model, start.copy(), opts, fitted, data, initial_soc, var_pts, rtol, atol,
                                  outputs=(VOLTAGE, TEMPERATURE)),
        options, tests, initial, thermal, max_isothermal_rise_K)

    def make_runner(pts: Mapping[str, int] | None) -> _ModelRunner:
        return _ModelRunner(model, start.copy(), options, fitted, data, initial_soc, pts, rtol, atol)

    if mesh_tolerance_V is None:
        runner, mesh_record = make_runner(var_pts), {"var_pts": dict(var_pts) if var_pts else None, "checked": False}
        initial_residuals = {d.name: runner.residual_V(initial, d) for d in tests}
    else:
        defaults = getattr(pybamm.lithium_ion, model)().default_var_pts
        runner, mesh_record, voltages = converged_mesh(
            make_runner, {**{k: defaults[k] for k in MESH_KEYS}, **(var_pts or {})}, tests, initial,
            mesh_tolerance_V, max_mesh_refinements)
        initial_residuals = {d.name: residual_of(v, d) for d, v in zip(tests, voltages)}  # solved by the check
    evaluated: dict[bytes, np.ndarray] = {}  # least_squares evaluates x0 again: solve each point once

    def residual(unit: np.ndarray) -> np.ndarray:
        key = np.asarray(unit, dtype=float).tobytes()
        if key not in evaluated:
            evaluated[key] = (initial_residuals[data.name] if key == x0.tobytes() else
                              runner.residual_V([p.from_unit(u) for p, u in zip(fitted, unit)], data))
            if progress is not None:
                progress(len(evaluated), float(np.sqrt(np.mean(evaluated[key] ** 2))))
        return evaluated[key]

    settings = {"method": "trf", "jac": "2-point", "loss": "linear", "x_scale": 1.0, "diff_step": diff_step,
                "ftol": ftol, "xtol": xtol, "gtol": gtol, "max_nfev": max_nfev}
    initial_residual = residual(x0)
    identified = identifiability(residual, x0, [p.name for p in fitted], diff_step, min_sensitivity_V, max_correlation)
    free = np.array([name not in identified["not_identifiable"] for name in identified["names"]])
    prior_scale = prior_weight_V * np.sqrt(initial_residual.size)

    def objective(unit_free: np.ndarray) -> np.ndarray:
        unit = x0.copy()
        unit[free] = unit_free
        return np.concatenate([residual(unit), prior_scale * (unit_free - x0[free])]) if prior_scale else residual(unit)

    unit = x0.copy()
    jac = np.zeros((initial_residual.size, len(fitted)))
    status, message, at_bound = 0, "no parameter is identifiable from these data: none fitted", np.zeros(len(fitted), bool)
    if free.any():
        inside = np.clip(x0[free], START_INSIDE, 1.0 - START_INSIDE)
        fit = least_squares(objective, inside, bounds=(np.zeros(free.sum()), np.ones(free.sum())), **settings)
        unit[free] = fit.x
        jac[:, free] = np.asarray(fit.jac, dtype=float)[:initial_residual.size]
        at_bound[free] = np.asarray(fit.active_mask) != 0
        status, message = int(fit.status), str(fit.message)
    values = {p.name: p.from_unit(u) for p, u in zip(fitted, unit)}
    ordered = [values[p.name] for p in fitted]
    fit_residual = residual(unit)
    validation_errors = {d.name: error_summary(runner.residual_V(ordered, d)) for d in validation}
    validation_initial = {d.name: error_summary(initial_residuals[d.name]) for d in validation}
    standard_errors = _standarderror_summary(fitted, ordered, jac, fit_residual, at_bound | ~free)
    return CalibrationResult(
        model=model, model_options=options, parameter_set=parameter_set,
        base_overrides=dict(parameter_overrides or {}), initial_soc=initial_soc,
        parameters=fitted, values=values, standard_errors=standard_errors,
        at_bound=[p.name for p, b in zip(fitted, at_bound) if b], fit_data=data, fit_residual_V=fit_residual,
        initial_residual_V=initial_residual, validation_data=list(validation), validation=validation_errors,
        validation_initial=validation_initial, identifiability=identified, thermal=thermal_record, mesh=mesh_record,
        nfev=len(evaluated), wall_time_s=time.perf_counter() - wall,
        least_squares_settings={**settings, "prior_weight_V": prior_weight_V}, status=status, message=message,
        solver_settings={"name": "IDAKLUSolver", "rtol": rtol, "atol": atol, "var_pts": mesh_record["var_pts"]})
