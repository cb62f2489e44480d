"""Characterisation experiments run on an electrochemical model: the data an ECM is fitted to.

An experiment is a :class:`Profile`: a piecewise-constant current (positive = discharge) held
from ``time_s[k]`` to ``time_s[k+1]``, starting from rest at ``initial_soc``. The same profile
drives the electrochemical twin here and the ECM in the fit and the validation, so both models
see exactly the same current. Three kinds:

* :func:`hppc_profile`: HPPC-style pulses (discharge pulse, rest, charge pulse, rest) at SOC
  levels from high to low, with a constant-current discharge and a long rest between levels;
* :func:`drive_cycle_profile`: one of the shared drive cycles (US06, UDDS at 1 s; WLTC, a power
  demand, averaged over each second and converted to current), scaled to the cell's capacity;
* the equilibrium OCV, which needs no simulation: :func:`equilibrium_ocv` evaluates the model's
  own open-circuit potentials at the electrode-SOH stoichiometries of each SOC.

:class:`EchemSource` names the electrochemical model (PyBaMM model, parameter set or BPX file,
overrides) and :func:`simulate` runs a profile on it with
:class:`fmutwin.twins.cell_echem.CellEchemTwin`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from fmutwin import data as shared_data
from fmutwin.provenance import file_record, pybamm_source

#: capacity of the cell the shared drive cycles were scaled to (the LG M50 of PyBaMM's examples) [Ah]
DRIVE_CYCLE_REFERENCE_CAPACITY_AH = 5.0
#: peak discharge current of the shared US06/UDDS cycles; WLTC's power is scaled to the same peak [A]
DRIVE_CYCLE_PEAK_CURRENT_A = 8.1


@dataclass(frozen=True)
class Profile:
    """A piecewise-constant current profile: ``current_A[k]`` (positive = discharge) from
    ``time_s[k]`` to ``time_s[k+1]``; the cell starts at rest at ``initial_soc``."""

    name: str
    kind: str  # "pulses" | "drive_cycle" | "constant_current"
    time_s: np.ndarray
    current_A: np.ndarray
    initial_soc: float
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t, i = np.asarray(self.time_s, float), np.asarray(self.current_A, float)
        object.__setattr__(self, "time_s", t)  # arrays whatever sequence was given
        object.__setattr__(self, "current_A", i)
        if t.ndim != 1 or i.shape != (t.size - 1,):
            raise ValueError(f"profile {self.name}: current_A needs one value per interval "
                             f"({t.size - 1}), got shape {i.shape}")
        if not (np.isfinite(t).all() and np.isfinite(i).all()) or np.any(np.diff(t) <= 0):
            raise ValueError(f"profile {self.name}: time_s must be finite and increasing, current_A finite")

    @property
    def dt_s(self) -> np.ndarray:
        """Step lengths [s]."""
        return np.diff(self.time_s)

    def head(self, steps: int) -> "Profile":
        """The profile's first ``steps`` steps (a discharge ended at its cut-off)."""
        return Profile(self.name, self.kind, self.time_s[:steps + 1], self.current_A[:steps], self.initial_soc,
                       self.settings)

    def record(self) -> dict[str, Any]:
        """A JSON-ready description for provenance records."""
        charge = float(np.sum(self.current_A * self.dt_s)) / 3600.0
        return {"name": self.name, "kind": self.kind, "initial_soc": self.initial_soc,
                "duration_s": float(self.time_s[-1] - self.time_s[0]), "steps": int(self.current_A.size),
                "net_discharge_Ah": charge, "max_discharge_current_A": float(self.current_A.max()),
                "max_charge_current_A": float(-self.current_A.min()), **self.settings}


def _segments(parts: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """(duration, current, step) parts -> breakpoints and currents (each part cut into equal steps)."""
    times, currents = [0.0], []
    for duration, current, step in parts:
        n = max(1, int(round(duration / step)))
        times.extend(times[-1] + duration * np.arange(1, n + 1) / n)
        currents.extend([current] * n)
    return np.array(times), np.array(currents)


def hppc_profile(capacity_Ah: float, soc_levels: tuple[float, ...] = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1),
                 pulse_c_rates: tuple[float, ...] = (1.0,), charge_c_rates: tuple[float, ...] = (0.5,),
                 pulse_s: float = 10.0, pulse_rest_s: float = 40.0, level_c_rate: float = 1.0,
                 level_rest_s: float = 1200.0, fast_charge_max_soc: float = 1.0) -> Profile:
    """HPPC-style pulses at each SOC level, from high to low SOC, at several amplitudes.

    At each level, for each amplitude pair in turn (``pulse_c_rates[j]`` discharge,
    ``charge_c_rates[j]`` charge; the shorter tuple repeats its last value): a discharge pulse for
    ``pulse_s``, a rest, a charge pulse for ``pulse_s``, a rest (all at 1 s steps); then a
    ``level_c_rate`` discharge to the next level (10 s steps) and a ``level_rest_s`` rest (1 s
    steps for the first minute, then coarser). Each discharge pulse is balanced by its charge
    pulse only when the rates are equal, so a level's SOC drifts by the pulses' net charge.
    Charge pulses faster than 1C are left out at levels above ``fast_charge_max_soc``, where a
    cell passes its upper cut-off within the pulse. Starts from rest at the first level.
    """
    levels = sorted(soc_levels, reverse=True)
    if not levels or levels[0] > 1.0 or levels[-1] <= 0.0:
        raise ValueError(f"soc_levels must lie in (0, 1], got {soc_levels}")
    rates = [tuple(float(r) for r in pulse_c_rates), tuple(float(r) for r in charge_c_rates)]
    if not all(rates) or any(r < 0 for group in rates for r in group):
        raise ValueError(f"pulse_c_rates and charge_c_rates must be non-empty and >= 0, got {pulse_c_rates}, "
                         f"{charge_c_rates}")
    n_pairs = max(len(r) for r in rates)
    pairs = [tuple(group[min(j, len(group) - 1)] for group in rates) for j in range(n_pairs)]
    c = float(capacity_Ah)
    parts: list[tuple[float, float, float]] = []
    for k, soc in enumerate(levels):
        for discharge, charge in pairs:
            parts += [(pulse_s, discharge * c, 1.0), (pulse_rest_s, 0.0, 1.0)]
            if charge <= 1.0 or soc <= fast_charge_max_soc:
                parts += [(pulse_s, -charge * c, 1.0), (pulse_rest_s, 0.0, 1.0)]
        if k + 1 < len(levels):
            duration = (soc - levels[k + 1]) * 3600.0 / level_c_rate
            parts += [(duration, level_c_rate * c, 10.0), (60.0, 0.0, 1.0), (120.0, 0.0, 10.0),
                      (max(level_rest_s - 180.0, 30.0), 0.0, 60.0)]
    t, i = _segments(parts)
    return Profile("HPPC", "pulses", t, i, levels[0],
                   {"soc_levels": list(levels), "pulse_c_rates": [p[0] for p in pairs],
                    "charge_c_rates": [p[1] for p in pairs], "pulse_s": pulse_s, "pulse_rest_s": pulse_rest_s,
                    "level_c_rate": level_c_rate, "level_rest_s": level_rest_s,
                    "fast_charge_max_soc": fast_charge_max_soc})


def constant_current_profile(capacity_Ah: float, c_rate: float, initial_soc: float = 1.0,
                             steps: int = 400) -> Profile:
    """A constant-current discharge at ``c_rate`` from rest at ``initial_soc``, long enough to
    empty the cell (110 % of its charge): :func:`simulate` ends it at the lower voltage cut-off.
    ``steps`` equal steps over the nominal discharge time."""
    if not c_rate > 0:
        raise ValueError(f"c_rate must be > 0 (a discharge), got {c_rate}")
    duration = 1.1 * initial_soc * 3600.0 / c_rate
    step = initial_soc * 3600.0 / c_rate / steps
    t, i = _segments([(duration, c_rate * float(capacity_Ah), step)])
    return Profile(f"CC{c_rate:g}C@{initial_soc:g}", "constant_current", t, i, float(initial_soc),
                   {"c_rate": float(c_rate), "to": "lower voltage cut-off"})


def drive_cycle_profile(name: str, capacity_Ah: float, initial_soc: float, repeats: int = 1,
                        peak_c_rate: float | None = None) -> Profile:
    """A shared drive cycle at 1 s steps, currents scaled by capacity / 5 Ah (the cycles' reference
    cell), or, with ``peak_c_rate``, so that the largest discharge current is that many C.

    US06 and UDDS are tabulated as current; WLTC as vehicle power, which is averaged over each
    second and scaled so the raw (0.1 s) profile's peak discharge equals the other cycles' 8.1 A
    (before the capacity scaling; 7.94 A after the averaging): a constant-voltage conversion, so every model sees the same current.
    """
    scale = capacity_Ah / DRIVE_CYCLE_REFERENCE_CAPACITY_AH
    upper = name.upper()
    if upper == "WLTC":
        _, power = shared_data.drive_cycle_power("WLTC")
        seconds, mean_power = shared_data.power_per_second("WLTC")
        current = mean_power * (DRIVE_CYCLE_PEAK_CURRENT_A / power.max())
        source = "drive_cycles/WLTC.csv"
    elif upper in ("US06", "UDDS"):
        seconds, current = shared_data.drive_cycle(upper)
        current = current[:-1]
        source = f"drive_cycles/{upper}.csv"
    else:
        raise ValueError(f"unknown drive cycle {name!r}; valid: US06, UDDS, WLTC")
    if peak_c_rate is not None:
        if not peak_c_rate > 0:
            raise ValueError(f"peak_c_rate must be > 0, got {peak_c_rate}")
        scale = peak_c_rate * capacity_Ah / current.max()
    one = current * scale
    period = seconds[-1] - seconds[0]
    t = np.concatenate([seconds[:-1] + k * period for k in range(repeats)] + [[seconds[-1] + (repeats - 1) * period]])
    i = np.tile(one, repeats)
    label = f"{upper}@{initial_soc:g}" + (f"x{peak_c_rate:g}C" if peak_c_rate is not None else "")
    return Profile(label, "drive_cycle", t - t[0], i, float(initial_soc),
                   {"cycle": upper, "repeats": repeats, "current_scale": scale, "peak_c_rate": peak_c_rate,
                    "data": file_record(shared_data.data_dir() / source, f"drive cycle {upper}")})


@dataclass(frozen=True)
class EchemSource:
    """The electrochemical model the ECM is reduced from (see :class:`~fmutwin.twins.cell_echem.CellEchemTwin`)."""

    model: str = "DFN"
    parameter_set: str = "Chen2020"
    bpx_file: str | None = None
    parameter_overrides: Mapping[str, Any] = field(default_factory=dict)
    var_pts: Mapping[str, int] | None = None
    model_options: Mapping[str, str] = field(default_factory=dict)  # e.g. {"contact resistance": "true"}
    #: the experiments may pass the cell's voltage cut-offs by this much (pulses near full or empty
    #: at low temperature): the cut-offs are operating limits (events), not limits of the model
    voltage_margin_V: float = 0.0

    def base_parameter_values(self) -> Any:
        """The named parameter set or the BPX file's values, without overrides."""
        import pybamm

        from fmutwin.twins.cell_echem import _load_bpx

        if self.bpx_file:
            values = _load_bpx(self.bpx_file)
        elif self.parameter_set in pybamm.parameter_sets:
            values = pybamm.ParameterValues(self.parameter_set)
        else:
            raise ValueError(f"parameter_set: unknown PyBaMM parameter set {self.parameter_set!r}; valid: "
                             f"{', '.join(sorted(pybamm.parameter_sets))}")
        return values

    def parameter_values(self) -> Any:
        """PyBaMM parameter values with the overrides applied (unknown names listed with hints)."""
        values = self.base_parameter_values()
        unknown = [k for k in self.parameter_overrides if k not in values.keys()]
        if unknown:
            import difflib

            hints = {k: difflib.get_close_matches(k, list(values.keys()), n=1) for k in unknown}
            raise ValueError("parameter_overrides: not parameters of this set: " + "; ".join(
                f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items()))
        values.update(dict(self.parameter_overrides))
        return values

    def twin(self, initial_soc: float, temperature_K: float) -> Any:
        """An isothermal twin at ``temperature_K`` starting from rest at ``initial_soc``."""
        from fmutwin.twins.cell_echem import CellEchemTwin

        overrides = dict(self.parameter_overrides)
        if self.voltage_margin_V:
            values = self.parameter_values()
            overrides["Lower voltage cut-off [V]"] = float(values["Lower voltage cut-off [V]"]) - self.voltage_margin_V
            overrides["Upper voltage cut-off [V]"] = float(values["Upper voltage cut-off [V]"]) + self.voltage_margin_V
        return CellEchemTwin(model=self.model, parameter_set=self.parameter_set, bpx_file=self.bpx_file,
                             thermal="isothermal", initial_soc=initial_soc, ambient_temperature_K=temperature_K,
                             var_pts=self.var_pts, parameter_overrides=overrides, model_options=self.model_options)

    def record(self) -> dict[str, Any]:
        """Model, parameter source with hashes, overrides: what makes a reduction reproducible."""
        return pybamm_source(self.model, self.parameter_set, self.bpx_file, self.base_parameter_values(),
                             options={"thermal": "isothermal", **self.model_options},
                             parameter_overrides={k: _jsonable(v) for k, v in self.parameter_overrides.items()},
                             var_pts=dict(self.var_pts) if self.var_pts else "pybamm default",
                             experiment_voltage_margin_V=self.voltage_margin_V)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return repr(value)


@dataclass(frozen=True)
class Trace:
    """The electrochemical model's response to a profile at one temperature."""

    profile: Profile
    temperature_K: float
    voltage_V: np.ndarray  # at the end of each step
    wall_time_s: float


def simulate(source: EchemSource, profile: Profile, temperature_K: float) -> Trace:
    """Run ``profile`` on the electrochemical twin (isothermal, at ``temperature_K``).

    A constant-current discharge ends at the model's lower voltage cut-off: the trace (and its
    profile) keep the steps before the first one that ends below it. Any other profile must stay
    inside the model's limits to be usable for a fit: a limit reached part-way raises the twin's
    error naming the profile.
    """
    import time

    from fmutwin.twins.cell_echem import LimitReached

    wall = time.perf_counter()
    twin = source.twin(profile.initial_soc, temperature_K)
    try:
        out = twin.run(profile.time_s, profile.current_A)
    except LimitReached as exc:
        if profile.kind != "constant_current":
            raise LimitReached(f"experiment {profile.name} at {temperature_K} K: {exc}", exc.event, exc.time_s,
                               exc.outputs) from exc
        out = exc.partial  # type: ignore[attr-defined]
    voltage = np.asarray(out["voltage_V"], float)
    if profile.kind == "constant_current":
        below = np.flatnonzero(voltage < float(source.parameter_values()["Lower voltage cut-off [V]"]))
        steps = int(below[0]) if below.size else voltage.size
        if steps < 2:
            raise ValueError(f"experiment {profile.name} at {temperature_K} K starts below the lower voltage cut-off")
        profile, voltage = profile.head(steps), voltage[:steps]
    return Trace(profile, float(temperature_K), voltage, time.perf_counter() - wall)


def capacity_window(trace: Trace, fraction: float = 0.95) -> Trace:
    """A constant-current discharge's trace over the first ``fraction`` of the charge it delivered
    (where an ECM is compared: the last steps before the cut-off are the knee); other traces as
    they are."""
    if trace.profile.kind != "constant_current":
        return trace
    charge = np.cumsum(trace.profile.current_A * trace.profile.dt_s)
    steps = max(1, int(np.searchsorted(charge, fraction * charge[-1], side="right")))
    return Trace(trace.profile.head(steps), trace.temperature_K, trace.voltage_V[:steps], trace.wall_time_s)


def electrode_soh(source: EchemSource) -> dict[str, float]:
    """PyBaMM's electrode SOH of the source's parameters (:func:`fmutwin.twins.cell_echem.electrode_soh`):
    stoichiometries at 0 % and 100 % SOC and the capacity Q [Ah] between them."""
    from fmutwin.twins.cell_echem import electrode_soh as soh_of

    return soh_of(source.parameter_values())


def equilibrium_ocv(source: EchemSource, soc: np.ndarray, temperatures_K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's own OCV and entropic coefficient over (SOC, T) [V], [V/K], rows over SOC.

    OCV = U_p(y(SOC), T) - U_n(x(SOC), T) with x, y linear in SOC between the electrode-SOH
    stoichiometries: the voltage the electrochemical model relaxes to at each SOC, and with the
    capacity of :func:`electrode_soh` the same SOC the ECM counts.
    """
    import pybamm

    values = source.parameter_values()
    param = pybamm.LithiumIonParameters()
    soh = electrode_soh(source)
    soc = np.asarray(soc, float)
    sto_n = pybamm.Vector(soh["x_0"] + soc * (soh["x_100"] - soh["x_0"]))
    sto_p = pybamm.Vector(soh["y_0"] + soc * (soh["y_100"] - soh["y_0"]))
    ocv = np.empty((soc.size, len(temperatures_K)))
    entropic = np.empty_like(ocv)
    for j, t_K in enumerate(temperatures_K):
        temp = pybamm.Scalar(float(t_K))
        u_p = values.evaluate(param.p.prim.U(sto_p, temp)).ravel()
        u_n = values.evaluate(param.n.prim.U(sto_n, temp)).ravel()
        ocv[:, j] = u_p - u_n
        d_p = values.evaluate(param.p.prim.dUdT(sto_p)).ravel() * np.ones(soc.size)
        d_n = values.evaluate(param.n.prim.dUdT(sto_n)).ravel() * np.ones(soc.size)
        entropic[:, j] = d_p - d_n
    return ocv, entropic


def thermal_properties(source: EchemSource) -> dict[str, float]:
    """Lumped thermal mass m c_p [J/K] and convective conductance h A [W/K] of the source's cell.

    From PyBaMM's own lumped thermal model (cell thermal volume times volume-averaged effective
    heat capacity at the initial state; total heat-transfer coefficient times cooling area), so
    the ECM's lumped thermal model sees the same cell.
    """
    import pybamm

    values = source.parameter_values()
    sim = pybamm.Simulation(pybamm.lithium_ion.SPM({"thermal": "lumped"}), parameter_values=values)
    solution = sim.solve([0.0, 1.0])
    volume = float(solution["Cell thermal volume [m3]"].data[0])
    rho_c_p = float(solution["Volume-averaged effective heat capacity [J.K-1.m-3]"].data[0])
    h_a = float(values["Total heat transfer coefficient [W.m-2.K-1]"]) * float(values["Cell cooling surface area [m2]"])
    return {"mass_J_per_K": volume * rho_c_p, "heat_transfer_W_per_K": h_a}
