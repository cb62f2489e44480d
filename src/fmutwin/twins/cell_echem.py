"""The electrochemical cell twin: one cell of a PyBaMM model (SPM, SPMe or DFN), stepped in time.

Same interface style as :class:`fmutwin.twins.cell_ecm.CellECMTwin` (single cell): ``step`` takes
the current (positive = discharge), the step length and the ambient conditions and returns a dict
of outputs at the end of the step (1-element numpy arrays, SI units, units in the names).

Design, from measurements on PyBaMM 26.10:

* The current and the ambient temperature are PyBaMM input parameters, so they may change every
  step without rebuilding the model. With ``thermal="lumped"`` an external heat flow [W] into the
  cell is added to the lumped energy balance as a third input.
* One :class:`pybamm.IDAKLUSolver` per twin (a solver cannot be shared between models), with
  ``output_variables`` (memory stays flat, each step is faster) and ``save=False`` (a growing saved
  solution makes every step slower and memory grow to GBs).
* PyBaMM's ``step`` silently returns the old solution once a termination event (voltage cut-off,
  stoichiometry limits, ...) was reached, and raises ``SolverError`` for a step that starts on an
  event boundary. The twin never stores an event-terminated solution: a step that reaches a
  limit raises :class:`LimitReached` naming the event and its time, and the twin keeps the state
  at the start of that step (so a smaller current, a rest or a reversal can follow).
* The state is the last solution point (time and state vector); :meth:`CellEchemTwin.get_state`
  returns copies of them and :meth:`CellEchemTwin.set_state` rebuilds a PyBaMM solution from them,
  so a restored run continues exactly like an uninterrupted one.
* Speed: PyBaMM's ``IDAKLUSolver.step`` spends about as long in Python (building a ``Solution``,
  its processed output variables, ``last_state``, input and event checks) as in IDAS for an SPMe
  step of 1 s. Once a first step has gone through ``IDAKLUSolver.step`` and a self-check has shown
  that :class:`_DirectIdakluStep` (which calls the IDAKLU C++ solver directly with the same
  arrays) reproduces it bit for bit, ordinary steps take the direct path; any step that does not
  end cleanly at the final time (event, solver failure, non-finite output) is redone through
  ``IDAKLUSolver.step``, so limits and errors behave exactly as before.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from fmutwin.interface import InputError, StateError
from fmutwin.twins.profile import run_profile

log = logging.getLogger(__name__)

MODELS: tuple[str, ...] = ("SPM", "SPMe", "DFN")
THERMAL_MODELS: tuple[str, ...] = ("isothermal", "lumped")

CURRENT_INPUT = "Current function [A]"
CONTACT_RESISTANCE = "Contact resistance [Ohm]"
AMBIENT_INPUT = "Ambient temperature [K]"
HEAT_FLOW_INPUT = "External heat flow [W]"

#: twin output name -> PyBaMM variable (evaluated at the end of each step)
PYBAMM_OUTPUTS: dict[str, str] = {
    "voltage_V": "Voltage [V]",
    "current_A": "Current [A]",
    "discharge_capacity_Ah": "Discharge capacity [A.h]",
    "temperature_K": "Volume-averaged cell temperature [K]",
    "heat_generation_W": "Total heating [W]",
    "negative_surface_stoichiometry": "X-averaged negative particle surface stoichiometry",
    "positive_surface_stoichiometry": "X-averaged positive particle surface stoichiometry",
    "electrolyte_concentration_separator_mol_per_m3": "X-averaged separator electrolyte concentration [mol.m-3]",
    # phi_s - phi_e at the negative electrode / separator interface: the lithium plating indicator
    # (plating is thermodynamically possible where it is below the Li/Li+ potential, 0 V)
    "negative_electrode_potential_vs_li_V":
        "Negative electrode surface potential difference at separator interface [V]",
}

#: every key of the dict returned by :meth:`CellEchemTwin.step`
OUTPUT_NAMES: tuple[str, ...] = (*PYBAMM_OUTPUTS, "soc", "soc_nominal", "time_s")


class LimitReached(StateError):
    """A step reached a PyBaMM termination event (e.g. the lower voltage cut-off).

    ``event`` is PyBaMM's event name, ``time_s`` the time at which it was reached and ``outputs``
    the outputs at that time (when PyBaMM returned them). The twin keeps its state at the start
    of the failed step.
    """

    def __init__(self, message: str, event: str, time_s: float, outputs: dict[str, np.ndarray] | None = None):
        super().__init__(message)
        self.event = event
        self.time_s = time_s
        self.outputs = outputs or {}

    def __reduce__(self) -> tuple[Any, ...]:  # picklable: it crosses process boundaries in parallel runs
        return (type(self), (str(self), self.event, self.time_s, self.outputs))


def _pybamm() -> Any:
    import pybamm

    return pybamm


def parameter_set_names() -> list[str]:
    """Names of the parameter sets PyBaMM ships (valid ``parameter_set`` values)."""
    return sorted(_pybamm().parameter_sets)


#: physical ranges checked in a BPX file's Parameterisation beyond the bpx schema (which only checks
#: types): field -> (lower, lower bound included, upper or None, upper included). Constants only;
#: functions and tables are left to the schema.
BPX_RANGES: dict[str, tuple[float, bool, float | None, bool]] = {
    **{name: (0.0, False, None, False) for name in (
        "Thickness [m]", "Particle radius [m]", "Maximum concentration [mol.m-3]",
        "Surface area per unit volume [m-1]", "Electrode area [m2]", "External surface area [m2]", "Volume [m3]",
        "Nominal cell capacity [A.h]", "Number of electrode pairs connected in parallel to make a cell",
        "Reference temperature [K]", "Density [kg.m-3]", "Specific heat capacity [J.K-1.kg-1]",
        "Reaction rate constant [mol.m-2.s-1]", "Diffusivity [m2.s-1]", "Conductivity [S.m-1]")},
    "Porosity": (0.0, False, 1.0, False),
    "Transport efficiency": (0.0, False, 1.0, True),
    "Cation transference number": (0.0, False, 1.0, False),
    "Minimum stoichiometry": (0.0, True, 1.0, True),
    "Maximum stoichiometry": (0.0, True, 1.0, True),
}


def _bpx_range_problems(node: Any, where: str = "Parameterisation") -> list[str]:
    """Out-of-range constants in a raw BPX Parameterisation (see :data:`BPX_RANGES`), as "path: reason"."""
    problems: list[str] = []
    if not isinstance(node, Mapping):
        return problems
    for key, value in node.items():
        at = f"{where}.{key}"
        if key == "User-defined":
            continue
        if isinstance(value, Mapping):
            problems += _bpx_range_problems(value, at)
        elif key in BPX_RANGES and isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, lo_in, hi, hi_in = BPX_RANGES[key]
            ok = np.isfinite(value) and (value >= lo if lo_in else value > lo)
            ok = ok and (hi is None or (value <= hi if hi_in else value < hi))
            if not ok:
                bounds = f"{'[' if lo_in else '('}{lo:g}, {'inf)' if hi is None else f'{hi:g}' + (']' if hi_in else ')')}"
                problems.append(f"{at}: {value!r} is outside {bounds}")
    lo, hi = node.get("Minimum stoichiometry"), node.get("Maximum stoichiometry")
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and not lo < hi:
        problems.append(f"{where}.Minimum stoichiometry: {lo!r} is not below Maximum stoichiometry {hi!r}")
    lo, hi = node.get("Lower voltage cut-off [V]"), node.get("Upper voltage cut-off [V]")
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and not lo < hi:
        problems.append(f"{where}.Lower voltage cut-off [V]: {lo!r} is not below Upper voltage cut-off [V] {hi!r}")
    return problems


def _load_bpx(path: str | Path) -> Any:
    """PyBaMM parameter values from a BPX file (JSON, or YAML for .yml/.yaml).

    A file that fails validation -> ValueError naming the fields: bpx's schema errors (pydantic)
    and constants outside their physical range (:data:`BPX_RANGES`, e.g. a negative thickness or
    a porosity outside (0, 1), which the schema accepts and PyBaMM turns into obscure errors or
    silently wrong results).
    """
    import copy
    import json

    pybamm = _pybamm()
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"BPX file {str(path)!r} does not exist")
    try:
        import bpx  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading a BPX file needs the 'bpx' package (pip install bpx)") from exc
    from pydantic import ValidationError

    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yml", ".yaml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse error of the file is reported the same way
        raise ValueError(f"BPX file {str(path)!r} could not be read: {type(exc).__name__}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"BPX file {str(path)!r} could not be read: the top level is not an object")
    ranges = _bpx_range_problems(raw.get("Parameterisation"))

    def failed(problems: list[str]) -> ValueError:
        return ValueError(f"BPX file {str(path)!r} failed validation ({len(problems)} error(s)): "
                          f"{'; '.join(problems)}")

    try:
        values = pybamm.ParameterValues.create_from_bpx_obj(copy.deepcopy(raw))
    except ValidationError as exc:
        raise failed([f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
                     + ranges) from exc
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        if ranges:
            raise failed(ranges) from exc
        raise ValueError(f"BPX file {str(path)!r} could not be read: {exc}") from exc
    if ranges:
        raise failed(ranges)
    return values


def parameter_values(parameter_set: str, bpx_file: str | Path | None = None) -> tuple[Any, str]:
    """PyBaMM's parameter values of a named set, or of a BPX file (which wins), and how to name
    them (``"BPX:<file name>"`` for a file); an unknown name raises ValueError listing the valid ones."""
    if bpx_file is not None:
        return _load_bpx(bpx_file), f"BPX:{Path(bpx_file).name}"
    pybamm = _pybamm()
    if parameter_set not in pybamm.parameter_sets:
        raise ValueError(f"unknown parameter set {parameter_set!r}; valid parameter sets: "
                         f"{', '.join(parameter_set_names())}")
    return pybamm.ParameterValues(parameter_set), parameter_set


def electrode_soh(values: Any, param: Any = None, options: Any = None,
                  inputs: Mapping[str, float] | None = None) -> dict[str, float]:
    """PyBaMM's electrode SOH of a parameter set: the stoichiometries at 0 % and 100 % SOC (the
    OCV at the lower and upper voltage cut-off) and the capacity between them [Ah].

    This window defines the state of charge that PyBaMM's ``initial_soc``, the twin's ``soc``
    output and ECMs reduced from the model (``fmutwin reduce``) all count; it is not the nominal
    capacity (Chen2020: 5.1532 Ah vs 5 Ah nominal). Raises ValueError if PyBaMM cannot compute it.
    """
    pybamm = _pybamm()
    param = param or pybamm.LithiumIonParameters()
    try:
        kwargs = {"param": param, **({"options": options} if options is not None else {}),
                  **({"inputs": dict(inputs)} if inputs is not None else {})}
        x_0, x_100, y_100, y_0 = pybamm.lithium_ion.get_min_max_stoichiometries(values, **kwargs)
        q_n = float(values.evaluate(param.n.Q_init))
    except Exception as exc:  # noqa: BLE001 - PyBaMM raises several types; each means "not computable"
        raise ValueError(f"PyBaMM could not compute the electrode SOH (stoichiometries at the voltage cut-offs) "
                         f"of this parameter set: {type(exc).__name__}: {exc}") from exc
    soh = {"x_0": float(x_0), "x_100": float(x_100), "y_0": float(y_0), "y_100": float(y_100),
           "capacity_Ah": q_n * float(x_100 - x_0)}
    if not all(np.isfinite(v) for v in soh.values()) or not soh["capacity_Ah"] > 0:
        raise ValueError(f"PyBaMM's electrode SOH of this parameter set is not usable: {soh}")
    return soh


class CellEchemTwin:
    """One cell of a PyBaMM lithium-ion model, stepped with piecewise-constant inputs.

    Parameters
    ----------
    model:
        ``"SPM"``, ``"SPMe"`` or ``"DFN"`` (``pybamm.lithium_ion.*``).
    parameter_set:
        A PyBaMM parameter-set name (``pybamm.ParameterValues(name)``); ignored if ``bpx_file``
        is given.
    bpx_file:
        Path of a BPX JSON file (``pybamm.ParameterValues.create_from_bpx``).
    thermal:
        ``"isothermal"`` (cell at the ambient temperature of each step) or ``"lumped"`` (one
        temperature, cooled towards ambient, heated by the cell and by ``heat_flow_W``).
    initial_soc:
        Initial state of charge in [0, 1] (PyBaMM's electrode-SOH initial state), or ``None`` to
        keep the parameter set's own initial concentrations.
    ambient_temperature_K:
        Initial cell temperature and the default ambient temperature of :meth:`step`.
    var_pts:
        Optional mesh sizes (``{"x_n": 20, "r_n": 30, ...}``), PyBaMM's defaults otherwise.
    rtol, atol:
        Tolerances of the IDAKLU solver.
    parameter_overrides:
        Values to change in the parameter set before building (e.g. cut-off voltages).
    model_options:
        Further PyBaMM model options (e.g. ``{"contact resistance": "true"}``); the thermal
        options are the twin's own (``thermal``) and cannot be set here.
    """

    def __init__(self, model: str = "SPMe", parameter_set: str = "Chen2020", bpx_file: str | Path | None = None,
                 thermal: str = "isothermal", initial_soc: float | None = 1.0, ambient_temperature_K: float = 298.15,
                 var_pts: Mapping[str, int] | None = None, rtol: float = 1e-6, atol: float = 1e-8,
                 parameter_overrides: Mapping[str, Any] | None = None,
                 model_options: Mapping[str, str] | None = None) -> None:
        pybamm = _pybamm()
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; valid models: {', '.join(MODELS)}")
        if thermal not in THERMAL_MODELS:
            raise ValueError(f"unknown thermal model {thermal!r}; valid: {', '.join(THERMAL_MODELS)}")
        if initial_soc is not None and not (np.isfinite(initial_soc) and 0.0 <= initial_soc <= 1.0):
            raise InputError(f"initial_soc = {initial_soc!r} must be in [0, 1] or None")
        if not (np.isfinite(ambient_temperature_K) and ambient_temperature_K > 0):
            raise InputError(f"ambient_temperature_K = {ambient_temperature_K!r} must be a finite value > 0 K")
        values, self.parameter_set = parameter_values(parameter_set, bpx_file)
        self.model_name = model
        self.thermal = thermal
        self._set_initial_soc = initial_soc is not None
        self.ambient_temperature_K = float(ambient_temperature_K)

        options = {"thermal": thermal}
        if thermal == "isothermal":  # heat_generation_W is reported (not fed back) for the isothermal cell
            options["calculate heat source for isothermal models"] = "true"
        clash = sorted(set(model_options or {}) & set(options))
        if clash:
            raise ValueError(f"model_options: {clash} are set by the twin (thermal={thermal!r})")
        options.update(dict(model_options or {}))
        if CONTACT_RESISTANCE in (parameter_overrides or {}):  # PyBaMM ignores the value without its option
            if str(options.get("contact resistance", "true")).lower() != "true":
                raise ValueError(f"parameter_overrides: {CONTACT_RESISTANCE!r} is given but model_options sets "
                                 f"'contact resistance' to {options['contact resistance']!r}: PyBaMM would ignore it")
            options["contact resistance"] = "true"
        try:
            self.model = getattr(pybamm.lithium_ion, model)(options=options)
        except pybamm.OptionError as exc:
            raise ValueError(f"model_options: {exc}") from None
        self.model_options = {k: v for k, v in options.items() if k not in ("thermal",
                                                                           "calculate heat source for isothermal models")}
        if thermal == "lumped":
            self._add_heat_flow_input(self.model)
        values.update(dict(parameter_overrides or {}))
        values.update({CURRENT_INPUT: "[input]", AMBIENT_INPUT: "[input]",
                       "Initial temperature [K]": self.ambient_temperature_K})
        self.parameter_values = values
        self.nominal_capacity_Ah = float(values["Nominal cell capacity [A.h]"])

        self.solver = pybamm.IDAKLUSolver(rtol=rtol, atol=atol, output_variables=list(PYBAMM_OUTPUTS.values()))
        self.simulation = pybamm.Simulation(self.model, parameter_values=values, solver=self.solver,
                                            var_pts=dict(var_pts) if var_pts else None)
        self.simulation.build(initial_soc=initial_soc, inputs=self._inputs(0.0, self.ambient_temperature_K, 0.0))
        self.built_model = self.simulation.built_model
        self.electrode_soh = electrode_soh(values, self.model.param, self.model.options,
                                           self._inputs(0.0, self.ambient_temperature_K, 0.0))
        self.window_capacity_Ah = self.electrode_soh["capacity_Ah"]
        self.initial_soc = float(initial_soc) if initial_soc is not None else self._parameter_set_soc()
        self._set_state(0.0, None, None, None)  # the initial state
        self.outputs: dict[str, np.ndarray] = {}
        self.last_step_wall_time_s = 0.0
        # direct IDAKLU stepping: None = not yet checked (set up after PyBaMM's first step)
        self._direct: _DirectIdakluStep | None = None
        self._direct_verified: bool | None = None

    def _parameter_set_soc(self) -> float:
        """SOC of the parameter set's own initial concentrations: the negative electrode's
        stoichiometry between its 0 % and 100 % SOC values of the electrode SOH."""
        param = self.model.param
        try:
            x_init = float(self.parameter_values.evaluate(param.n.prim.c_init_av / param.n.prim.c_max))
        except Exception as exc:  # noqa: BLE001 - PyBaMM raises several types; all mean "not computable"
            raise ValueError(f"initial_soc=None: the SOC of the parameter set's initial concentrations could not "
                             f"be computed ({type(exc).__name__}: {exc}); give initial_soc") from exc
        soh = self.electrode_soh
        return float((x_init - soh["x_0"]) / (soh["x_100"] - soh["x_0"]))

    # -- construction helpers ------------------------------------------------------------------

    @staticmethod
    def _add_heat_flow_input(model: Any) -> None:
        """Add an external heat flow [W] (an input) to the lumped energy balance of ``model``."""
        pybamm = _pybamm()
        name = "Volume-averaged cell temperature [K]"
        key = next(v for v in model.rhs if getattr(v, "name", None) == name)
        volume = model.variables["Cell thermal volume [m3]"]
        rho_c_p = model.variables["Volume-averaged effective heat capacity [J.K-1.m-3]"]
        model.rhs[key] = model.rhs[key] + pybamm.InputParameter(HEAT_FLOW_INPUT) / (volume * rho_c_p)
        model.variables["External heat flow [W]"] = pybamm.InputParameter(HEAT_FLOW_INPUT)

    def _inputs(self, current_A: float, ambient_temperature_K: float, heat_flow_W: float) -> dict[str, float]:
        inputs = {CURRENT_INPUT: float(current_A), AMBIENT_INPUT: float(ambient_temperature_K)}
        if self.thermal == "lumped":
            inputs[HEAT_FLOW_INPUT] = float(heat_flow_W)
        return inputs

    # -- stepping ----------------------------------------------------------------------------

    @property
    def time_s(self) -> float:
        """Simulation time of the twin [s]."""
        return self._t

    @property
    def direct_stepping(self) -> bool:
        """True once ordinary steps bypass ``IDAKLUSolver.step`` (see :class:`_DirectIdakluStep`)."""
        return bool(self._direct_verified)

    def step(self, current_A: float, dt_s: float, ambient_temperature_K: float | None = None,
             heat_flow_W: float = 0.0) -> dict[str, np.ndarray]:
        """Advance the cell by ``dt_s`` with a constant current (positive = discharge).

        ``ambient_temperature_K`` defaults to the constructor's value. ``heat_flow_W`` is heat
        into the cell from outside (lumped thermal model only; the isothermal cell ignores it).
        Returns the outputs at the end of the step (1-element arrays, keys :data:`OUTPUT_NAMES`).

        Raises :class:`InputError` for NaN/inf or out-of-range inputs, :class:`LimitReached` if a
        termination event (voltage cut-off, stoichiometry or concentration limit) is reached
        during the step, and :class:`StateError` if the solver fails or a result is not finite.
        The twin's state is unchanged when it raises.
        """
        if ambient_temperature_K is None:
            ambient_temperature_K = self.ambient_temperature_K
        current_A = _scalar_input("current_A", current_A)
        dt_s = _scalar_input("dt_s", dt_s)
        ambient_temperature_K = _scalar_input("ambient_temperature_K", ambient_temperature_K)
        heat_flow_W = _scalar_input("heat_flow_W", heat_flow_W)
        if not dt_s > 0:
            raise InputError(f"input dt_s = {dt_s!r} must be > 0")
        if ambient_temperature_K <= 0:
            raise InputError(f"input ambient_temperature_K = {ambient_temperature_K!r} must be > 0 K")
        if heat_flow_W != 0.0 and self.thermal == "isothermal":
            log.debug("heat_flow_W = %s ignored by the isothermal cell", heat_flow_W)

        inputs = self._inputs(current_A, ambient_temperature_K, heat_flow_W)
        wall = time.perf_counter()
        direct = self._direct
        if self._direct_verified and self._y is not None:
            done = direct.step(self._t, self._y, dt_s, inputs)
            if done is not None:  # else: event, failure or non-finite result -> PyBaMM's own step below
                t_end, y_end, row = done
                self.last_step_wall_time_s = time.perf_counter() - wall
                outputs = self._row_outputs(row, t_end)
                self._set_state(t_end, y_end, inputs, None)
                self.outputs = outputs
                return outputs
        t0, y0 = self._t, self._y
        outputs = self._pybamm_step(inputs, dt_s, heat_flow_W, wall)
        if self._direct_verified is None and y0 is not None:
            self._verify_direct(t0, y0, dt_s, inputs, outputs)
        return outputs

    def _pybamm_step(self, inputs: dict[str, float], dt_s: float, heat_flow_W: float,
                     wall: float) -> dict[str, np.ndarray]:
        """One step through PyBaMM's ``IDAKLUSolver.step`` (the first step, events and errors)."""
        pybamm = _pybamm()
        t0 = self._t
        old = self._old_solution()
        described = f"current_A={inputs[CURRENT_INPUT]}, dt_s={dt_s}, ambient_temperature_K={inputs[AMBIENT_INPUT]}, " \
                    f"heat_flow_W={heat_flow_W}"
        try:
            solution = self.solver.step(old, self.built_model, dt_s, inputs=inputs, save=False,
                                        t_interp=np.array([0.0, dt_s]))
        except pybamm.SolverError as exc:
            text = str(exc)
            if "event" in text.lower():
                event = _event_name(text)
                raise LimitReached(f"{self._limit_text(event)} reached in the step from t = {t0} s "
                                   f"({described}); PyBaMM: {text}", event, t0) from exc
            raise StateError(f"PyBaMM solver failed in the step from t = {t0} s ({described}): {text}") from exc
        self.last_step_wall_time_s = time.perf_counter() - wall
        if old is not None and solution is old:  # PyBaMM's "already terminated" path: never return frozen output
            raise StateError(f"PyBaMM returned the previous solution at t = {t0} s (terminated: "
                             f"{getattr(solution, 'termination', '?')})")
        termination = str(solution.termination)
        if termination != "final time":
            if termination.startswith("event:"):
                event = termination.split(":", 1)[1].strip()
                t_event = float(np.ravel(solution.t_event)[0] if solution.t_event is not None else solution.t[-1])
                outputs = self._outputs(solution)
                raise LimitReached(f"{self._limit_text(event)} reached at t = {t_event:.6g} s in the step from "
                                   f"t = {t0} s to {t0 + dt_s} s ({described})", event, t_event, outputs)
            raise StateError(f"PyBaMM solver terminated with {termination!r} in the step from t = {t0} s "
                             f"({described})")
        t_end = float(solution.t[-1])
        if not np.isclose(t_end, t0 + dt_s, rtol=1e-12, atol=1e-9):
            raise StateError(f"PyBaMM stopped at t = {t_end} s instead of {t0 + dt_s} s ({described})")
        outputs = self._outputs(solution)
        bad = [k for k, v in outputs.items() if not np.isfinite(v).all()]
        if bad:
            raise StateError(f"{bad[0]} became {outputs[bad[0]]} at t = {t_end} s ({described})")
        last = solution.last_state
        self._set_state(t_end, np.array(last.all_ys[-1][:, -1], dtype=float), inputs, last)
        self.outputs = outputs
        return outputs

    def _verify_direct(self, t0: float, y0: np.ndarray, dt_s: float, inputs: dict[str, float],
                       outputs: dict[str, np.ndarray]) -> None:
        """Check once that :class:`_DirectIdakluStep` repeats the PyBaMM step just taken bit for bit.

        On success the following ordinary steps take the direct path; otherwise (a PyBaMM version
        whose internals differ) a warning is logged and every step keeps going through PyBaMM.
        """
        self._direct_verified = False
        try:
            self._direct = _DirectIdakluStep(self.solver, self.built_model, inputs)
            done = self._direct.step(t0, y0, dt_s, inputs)
        except _NotApplicable as exc:  # a documented case PyBaMM's path handles (e.g. extrapolation checks)
            log.info("direct IDAKLU stepping not used: %s", exc)
            self._direct = None
            return
        except Exception as exc:  # noqa: BLE001 - PyBaMM internals not as expected: keep PyBaMM's own path
            done, why = None, f"{type(exc).__name__}: {exc}"
        else:
            why = "it did not reach the final time"
        if done is not None:
            t_end, y_end, row = done
            got = self._row_outputs(row, t_end)
            same = (t_end == self._t and np.array_equal(y_end, self._y)
                    and all(np.array_equal(got[k], outputs[k]) for k in OUTPUT_NAMES))
            if same:
                self._direct_verified = True
                return
            why = "its result differs from IDAKLUSolver.step"
        log.warning("direct IDAKLU stepping disabled (%s); every step goes through IDAKLUSolver.step", why)
        self._direct = None

    def _limit_text(self, event: str) -> str:
        texts = {"Minimum voltage [V]": "lower voltage cut-off",
                 "Maximum voltage [V]": "upper voltage cut-off"}
        text = texts.get(event, f"limit {event!r}")
        if event in texts:
            key = "Lower voltage cut-off [V]" if event.startswith("Minimum") else "Upper voltage cut-off [V]"
            try:
                text += f" ({float(self.parameter_values[key])} V)"
            except (KeyError, TypeError, ValueError):
                pass
        return text

    def _outputs(self, solution: Any) -> dict[str, np.ndarray]:
        """The outputs at the last time point of ``solution``."""
        out = {name: np.array([float(np.ravel(solution[var].data)[-1])]) for name, var in PYBAMM_OUTPUTS.items()}
        return self._with_soc(out, float(solution.t[-1]))

    def _with_soc(self, out: dict[str, np.ndarray], t_end: float) -> dict[str, np.ndarray]:
        """Add the two states of charge and the time to PyBaMM's outputs: ``soc`` over the
        electrode-SOH window (the definition of ``initial_soc`` and of reduced ECMs) and
        ``soc_nominal``, the remaining charge over the nominal capacity (may exceed 1)."""
        remaining_Ah = self.initial_soc * self.window_capacity_Ah - out["discharge_capacity_Ah"][0]
        out["soc"] = np.array([remaining_Ah / self.window_capacity_Ah])
        out["soc_nominal"] = np.array([remaining_Ah / self.nominal_capacity_Ah])
        out["time_s"] = np.array([t_end])
        return out

    def _row_outputs(self, row: np.ndarray, t_end: float) -> dict[str, np.ndarray]:
        """The outputs from one row of IDAKLU's output-variable values (in :data:`PYBAMM_OUTPUTS` order)."""
        out = {name: np.array([value]) for name, value in zip(PYBAMM_OUTPUTS, row.tolist())}
        return self._with_soc(out, t_end)

    # -- state -------------------------------------------------------------------------------

    def _set_state(self, t: float, y: np.ndarray | None, inputs: Mapping[str, float] | None,
                   solution: Any) -> None:
        """The twin's state: time, state vector (None = initial), last inputs, and the PyBaMM
        solution ending there if one exists (built from the others when PyBaMM needs it)."""
        self._t = float(t)
        self._y = y
        self._state_inputs = dict(inputs) if inputs is not None else None
        self._solution = solution

    def _old_solution(self) -> Any:
        """The PyBaMM solution to step on from (None = initial state)."""
        if self._y is None:
            return None
        if self._solution is None:
            inputs = dict(self._state_inputs or self._inputs(0.0, self.ambient_temperature_K, 0.0))
            self._solution = _pybamm().Solution(np.array([self._t]), self._y.reshape(-1, 1), self.built_model,
                                                inputs, termination="final time")
        return self._solution

    def get_state(self) -> dict[str, Any]:
        """A copy of the full state: time, PyBaMM state vector and the last outputs.

        Plain numbers and arrays (picklable); restore with :meth:`set_state` on this twin or on
        another twin built with the same arguments.
        """
        if self._y is None:
            return {"time_s": 0.0, "y": None, "outputs": {}}
        inputs = self._state_inputs or self._inputs(0.0, self.ambient_temperature_K, 0.0)
        return {"time_s": self._t,
                "y": np.array(self._y, dtype=float).copy(),
                "inputs": {k: float(v) for k, v in inputs.items()},
                "outputs": {k: v.copy() for k, v in self.outputs.items()}}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""
        missing = {"time_s", "y", "outputs"} - set(state)
        if missing:
            raise KeyError(f"state lacks {sorted(missing)}")
        if state["y"] is None:
            self._set_state(0.0, None, None, None)
            self.outputs = {}
            return
        y = np.array(state["y"], dtype=float).reshape(-1)
        n = self.built_model.len_rhs_and_alg
        if y.shape[0] != n:
            raise ValueError(f"state vector has {y.shape[0]} entries; this twin's model has {n}")
        inputs = dict(state.get("inputs") or self._inputs(0.0, self.ambient_temperature_K, 0.0))
        self._set_state(float(state["time_s"]), y, inputs, None)
        self.outputs = {k: np.array(v, dtype=float) for k, v in state["outputs"].items()}

    def run(self, time_s: np.ndarray, current_A: np.ndarray, ambient_temperature_K: float | None = None,
            heat_flow_W: float = 0.0) -> dict[str, np.ndarray]:
        """Step through a profile: ``current_A[k]`` is held from ``time_s[k]`` to ``time_s[k+1]``.

        Returns the outputs at ``time_s[1:]``, each an array over the profile
        (:func:`fmutwin.twins.profile.run_profile`). A failure part-way raises with the results
        so far in ``exc.partial``.
        """
        return run_profile(self.step, time_s, {"current_A": current_A},
                           {"ambient_temperature_K": ambient_temperature_K, "heat_flow_W": heat_flow_W})


def _event_name(text: str) -> str:
    """The event name in a PyBaMM SolverError text such as "Events ['Minimum voltage [V]'] are non-positive"."""
    import re

    m = re.search(r"\[\s*'([^']+)'", text)
    return m.group(1) if m else "termination event"


def _scalar_input(name: str, value: Any) -> float:
    """``value`` as a finite float, else :class:`InputError` (not a scalar, NaN or inf)."""
    if isinstance(value, (float, int)):  # the common case, without numpy
        number = float(value)
        if math.isfinite(number):
            return number
        raise InputError(f"input {name} = {value!r} is not finite")
    arr = np.asarray(value, dtype=float)
    if arr.size != 1:
        raise InputError(f"input {name} = {value!r} must be a scalar (one cell)")
    if not np.isfinite(arr).all():
        raise InputError(f"input {name} = {value!r} is not finite")
    return float(arr.item())


class _NotApplicable(ValueError):
    """The model or solver needs PyBaMM's Python post-processing; direct stepping does not apply."""


#: IDAS return flag of a solve that stopped at a root (a PyBaMM event); pybamm.solvers.idaklu_solver
_IDA_ROOT_RETURN = 2


class _DirectIdakluStep:
    """One step of a built PyBaMM model by a direct call of IDAKLU's C++ solver.

    This is what ``pybamm.IDAKLUSolver.step(old, model, dt, inputs=inputs, save=False,
    t_interp=[0, dt])`` does for a step from the state ``y0`` at ``t0``, with the same arrays
    handed to the same C++ solver, minus PyBaMM's Python bookkeeping (``Solution`` and processed
    variables, ``last_state``, input checks, event and extrapolation post-processing), which costs
    about as much as the IDAS integration of a 1 s SPMe step. It depends on these internals of
    pybamm 26.10 / pybammsolvers 0.11 (``BaseSolver.step``, ``IDAKLUSolver._set_consistent_initialization``,
    ``IDAKLUSolver._integrate``, ``OutputAssembly``):

    * the step runs from ``start = nextafter(t0, inf)`` (``t0`` itself when ``t0 == 0``) to
      ``t0 + dt``; ``t_eval = t_interp = [start, t0 + dt]``;
    * inputs are flattened in the order of their sorted names (``_set_up_model_inputs``);
    * ``solver.root_method`` is None with ``options["calc_ic"]`` (IDAS computes the consistent
      state; no Python root finding), and for a standard-form DAE ``ydot0 = model.rhs_eval(start,
      y0, p)`` for the differential states and 0 for the algebraic ones;
    * ``solver._setup["solver"].solve(t_eval, t_interp, y0[None], ydot0[None], p[None],
      logger=None, pbar=empty((0, 0)))`` returns one result per input set with ``flag`` (< 0
      failure, 2 = an event root), ``t``, ``y`` (the output variables, one row each in
      ``output_variables`` order, per time) and ``y_term`` (the state at the end).

    :meth:`step` returns None for anything but a clean end at the final time (event, failure,
    non-finite output); the twin then redoes the step through ``IDAKLUSolver.step`` so events
    and errors are PyBaMM's. The constructor raises if an internal is missing or a
    precondition does not hold (sensitivities, interpolant-extrapolation checks, a mass matrix,
    Python root finding); the twin then compares one direct step with PyBaMM's bit for bit
    before it uses this path and keeps PyBaMM's path if they differ.
    ``tests/twins/test_cell_echem.py::test_direct_idaklu_step_is_pybamm_step_bit_for_bit``
    fails when a PyBaMM release changes any of this.
    """

    def __init__(self, solver: Any, model: Any, inputs: Mapping[str, float]) -> None:
        pybamm = _pybamm()
        setup = solver._setup
        self.solver = setup["solver"]
        self.n_outputs = int(setup["output_assembly"].n_rows)
        if self.n_outputs != len(solver.output_variables):
            raise ValueError("an output variable is not one row")
        if setup["number_of_sensitivity_parameters"] != 0:
            raise _NotApplicable("sensitivities are calculated")
        if solver.root_method is not None or not solver.options["calc_ic"]:
            raise _NotApplicable("consistent states are found in Python (root_method)")
        if not model.is_standard_form_dae:
            raise _NotApplicable("the model has a mass matrix")
        if solver.on_extrapolation != "ignore" and any(
                e.event_type == pybamm.EventType.INTERPOLANT_EXTRAPOLATION for e in model.events):
            raise _NotApplicable("interpolant extrapolation is checked after each step")
        self.input_names = sorted(ip.name for ip in model.input_parameters)
        if sorted(inputs) != self.input_names:
            raise ValueError(f"model inputs {self.input_names} are not the twin's {sorted(inputs)}")
        self.rhs_eval = model.rhs_eval
        self.len_rhs = int(model.len_rhs)
        self.pbar = np.empty((0, 0))

    def step(self, t0: float, y0: np.ndarray, dt: float,
             inputs: Mapping[str, float]) -> tuple[float, np.ndarray, np.ndarray] | None:
        """``(t_end, state at t_end, output-variable row at t_end)``, or None if the step did not
        end cleanly at ``t0 + dt`` (then PyBaMM's own step must be taken)."""
        start = t0 if t0 == 0 else np.nextafter(t0, np.inf)
        t_end = t0 + dt
        p = np.array([[inputs[name] for name in self.input_names]], dtype=float)
        ydot0 = np.zeros_like(y0)
        if self.len_rhs:
            ydot0[: self.len_rhs] = self.rhs_eval(start, y0, p[0]).full().ravel()
        try:
            sol = self.solver.solve(np.array([start, t_end]), np.array([start, t_end]), np.vstack([y0]),
                                    np.vstack([ydot0]), p, logger=None, pbar=self.pbar)[0]
        except ValueError:  # PyBaMM turns this into a SolverError
            return None
        if sol.flag < 0 or sol.flag == _IDA_ROOT_RETURN:
            return None
        t = np.asarray(sol.t)
        if float(t[-1]) != t_end:
            return None
        row = np.asarray(sol.y).reshape(t.size, -1)[-1]
        if row.size != self.n_outputs or not np.isfinite(row).all():
            return None
        return t_end, np.array(sol.y_term, dtype=float).reshape(-1), row
