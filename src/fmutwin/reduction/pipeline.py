"""The reduction pipeline: electrochemical model -> characterisation experiments -> fitted ECM ->
validated, traceable parameter file (-> FMUs).

``fmutwin reduce CONFIG`` and :func:`reduce` run it. Steps:

1. optional calibration of named PyBaMM parameters to measured data
   (:mod:`fmutwin.reduction.calibrate`); the calibrated values become parameter overrides;
2. the model's equilibrium OCV (and entropic coefficient) over (SOC, T) and its electrode-SOH
   capacity (:mod:`fmutwin.reduction.experiments`);
3. HPPC pulses and the fit drive cycle(s) at every temperature, and the held-out validation
   cycles, simulated with the electrochemical twin (in parallel processes);
4. the ECM fit per temperature (:mod:`fmutwin.reduction.ecm_fit`), assembled into (SOC, T) tables;
5. validation: the cell ECM twin itself (:class:`fmutwin.twins.cell_ecm.CellECMTwin`) driven by
   the same currents as the electrochemical model on the held-out cycles; RMS and max error per
   cycle and temperature;
6. the parameter file, sealed with its provenance record (:mod:`fmutwin.provenance`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from fmutwin import provenance
from fmutwin.params.base import StrictModel
from fmutwin.params.cell import CellParameters, ChargeTransfer, Concentration, Initial, RCBranch, Thermal
from fmutwin.params.tables import Table
from fmutwin.reduction.ecm_fit import FitSettings, TemperatureFit, error_summary, fit_data, fit_temperature
from fmutwin.reduction.experiments import (EchemSource, Profile, Trace, capacity_window, constant_current_profile,
                                           drive_cycle_profile, electrode_soh, equilibrium_ocv, hppc_profile,
                                           simulate, thermal_properties)

log = logging.getLogger(__name__)


class CycleRun(StrictModel):
    """A drive cycle started from rest at an SOC."""

    cycle: Literal["US06", "UDDS", "WLTC"] = Field(description="shared drive cycle")
    initial_soc: float = Field(gt=0, le=1, description="SOC at the start [1]")
    peak_c_rate: float | None = Field(None, gt=0, description="scale the cycle so its largest discharge current "
                                      "is this many C (default: the shared cycle scaled to the cell's capacity)")

    def profile(self, capacity_Ah: float) -> Profile:
        return drive_cycle_profile(self.cycle, capacity_Ah, self.initial_soc, peak_c_rate=self.peak_c_rate)


class MeasuredTest(StrictModel):
    """A measured constant-current test: the shared Ecker2015 discharge or a CSV of the shared data."""

    file: str = Field("Ecker2015_1C", description="'Ecker2015_1C' (the shared measured discharge) or a CSV in the "
                      "shared data folder with columns time [s], voltage [V]")
    current_A: float | None = Field(None, description="test current for a CSV, positive = discharge [A]")
    temperature_K: float = Field(298.15, gt=0, description="test temperature for a CSV [K]")

    def load(self, where: str) -> Any:
        """The test as a :class:`fmutwin.reduction.calibrate.MeasuredDischarge`."""
        from fmutwin.reduction import calibrate as cal

        if self.file == "Ecker2015_1C":
            return cal.ecker2015_1c_discharge()
        if self.current_A is None:
            raise ValueError(f"{where}.current_A: required for a CSV test (positive = discharge)")
        return cal.load_measured_discharge(self.file, self.current_A, self.temperature_K)


class CalibrationConfig(StrictModel):
    """Optional step 1: fit named PyBaMM parameters to a measured constant-current test."""

    data: MeasuredTest = Field(default_factory=MeasuredTest, description="the test fitted")
    validation: list[MeasuredTest] = Field(default_factory=list, description="further measured tests, not fitted")
    parameters: dict[str, tuple[float, float, float]] = Field(
        description="{PyBaMM name or '<name> scale factor': (initial, lower, upper)}")
    fit_fraction: float = Field(0.7, gt=0, le=1, description="first fraction of the test (by time) that is "
                                "fitted; the rest is held out for validation")
    max_nfev: int = Field(60, ge=1, description="least-squares evaluations at most")
    prior_weight_V: float = Field(0.0, ge=0, description="regularisation towards the parameter set's values: a "
                                  "move across a parameter's whole bound range costs this much RMS error [V]")
    min_sensitivity_V: float = Field(1e-3, ge=0, description="a parameter whose RMS voltage sensitivity over its "
                                     "bound range is below this is not fitted (left at its initial value) [V]")
    max_correlation: float = Field(0.99, gt=0, le=1, description="of two parameters correlated beyond this, the "
                                   "less sensitive one is not fitted")
    thermal: Literal["auto", "isothermal", "lumped"] = Field(
        "auto", description="thermal model of the calibration; auto: lumped if it warms the cell by more than "
        "max_isothermal_rise_K in a test, else isothermal")
    max_isothermal_rise_K: float = Field(1.0, gt=0, description="largest temperature rise [K] a test may cause for "
                                         "the isothermal model to be chosen (thermal: auto)")
    mesh_tolerance_V: float | None = Field(1e-3, gt=0, description="mesh refined (counts doubled) until the voltage "
                                           "at the tests' samples changes by less than this RMS [V]; null: no check")


class ReductionConfig(StrictModel):
    """Everything a reduction run depends on (also recorded in the provenance)."""

    name: str = Field("reduced_ecm", description="name of the parameter set (and file stem)")
    model: Literal["SPM", "SPMe", "DFN"] = Field("DFN", description="PyBaMM model simulated")
    parameter_set: str = Field("Chen2020", description="PyBaMM parameter set (ignored with bpx_file)")
    bpx_file: str | None = Field(None, description="BPX parameter file instead of a named set")
    parameter_overrides: dict[str, float] = Field(default_factory=dict, description="PyBaMM values to change")
    temperatures_K: list[float] = Field([288.15, 298.15, 308.15], min_length=1,
                                        description="temperatures of the experiments and the tables [K]")
    n_rc: int = Field(2, ge=1, le=3, description="RC pairs of the ECM")
    ecm: Literal["nonlinear", "linear"] = Field(
        "nonlinear", description="nonlinear: R0 with a charge-transfer (asinh) and an electrolyte-concentration "
        "overpotential beside the RC pairs (follows the electrochemical model at high current); linear: R0 and the "
        "RC pairs only (docs/reduction.md compares them)")
    soc_grid: list[float] = Field(list(FitSettings.soc_grid), description="SOC nodes of the R tables [1]")
    tau_soc_grid: list[float] = Field(list(FitSettings.tau_soc_grid), description="SOC nodes of the tau tables")
    high_current_weight: float = Field(5.0, ge=0, description="extra weight of high-current samples in the fit")
    smoothing: float = Field(FitSettings.smoothing, ge=0, description="SOC-curvature penalty of the R tables")
    ocv_points: int = Field(101, ge=11, le=1001, description="SOC points of the OCV table")
    hppc_soc_levels: list[float] = Field([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
                                         description="SOC levels of the HPPC pulses [1]")
    hppc_pulse_c_rates: list[float] = Field([0.5, 1.0, 2.0, 3.0], min_length=1,
                                            description="discharge pulse amplitudes at every HPPC level [C]")
    hppc_charge_c_rates: list[float] = Field([0.5, 1.0, 2.0, 3.0], min_length=1,
                                             description="charge pulse amplitudes at every HPPC level [C]")
    hppc_fast_charge_max_soc: float = Field(0.8, gt=0, le=1, description="charge pulses faster than 1C only at "
                                            "HPPC levels at or below this SOC (above it they pass the upper cut-off)")
    fit_cycles: list[CycleRun] = Field(
        default_factory=lambda: [CycleRun(cycle="UDDS", initial_soc=0.7),
                                 CycleRun(cycle="UDDS", initial_soc=0.9, peak_c_rate=3.0)],
        description="drive cycles fitted together with the pulses")
    fit_discharge_c_rates: list[float] = Field(
        [1.0, 2.5], description="constant-current discharges from full to the lower cut-off, fitted [C]")
    validation_cycles: list[CycleRun] = Field(
        default_factory=lambda: ([CycleRun(cycle=c, initial_soc=s) for c in ("US06", "WLTC") for s in (0.8, 0.4)]
                                 + [CycleRun(cycle=c, initial_soc=s, peak_c_rate=3.0)
                                    for c in ("US06", "WLTC") for s in (0.9, 0.5)]),
        description="held-out drive cycles (never fitted)")
    validation_discharge_c_rates: list[float] = Field(
        [0.5, 2.0, 3.0], description="held-out constant-current discharges from full to the lower cut-off [C], "
        "compared over the first 95 % of the charge the electrochemical model delivers")
    calibration: CalibrationConfig | None = Field(None, description="calibrate the model to measured data first")
    experiment_voltage_margin_V: float = Field(
        0.2, ge=0, le=1, description="the experiments may pass the model's voltage cut-offs by this much [V]")
    workers: int = Field(0, ge=0, description="processes for the simulations (each profile at each temperature "
                         "is one task); 0: the CPU count")

    @field_validator("temperatures_K")
    @classmethod
    def _increasing(cls, v: list[float]) -> list[float]:
        if any(t <= 0 for t in v) or any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError(f"must be positive and strictly increasing, got {v}")
        return v

    @field_validator("hppc_soc_levels")
    @classmethod
    def _levels(cls, v: list[float]) -> list[float]:
        if len(set(v)) != len(v) or not all(0 < s <= 1 for s in v):
            raise ValueError(f"must be distinct SOC values in (0, 1], got {v}")
        return v

    @model_validator(mode="after")
    def _held_out(self) -> "ReductionConfig":
        for what, fit_field, held_field in (
                ("cycle, initial SOC and peak", "fit_cycles", "validation_cycles"),
                ("C-rate", "fit_discharge_c_rates", "validation_discharge_c_rates")):
            runs = {}
            for name in (fit_field, held_field):
                runs[name] = [(c.cycle, c.initial_soc, c.peak_c_rate) if isinstance(c, CycleRun) else c
                              for c in getattr(self, name)]
                if len(set(runs[name])) != len(runs[name]):
                    raise ValueError(f"{name}: the same {what} twice: {runs[name]}")
            both = sorted(set(runs[fit_field]) & set(runs[held_field]), key=str)
            if both:
                raise ValueError(f"{held_field}: {both} are also fitted ({fit_field}); held-out runs must not be")
        return self

    @classmethod
    def load(cls, path: str | Path) -> "ReductionConfig":
        """Read a JSON config; errors name the field."""
        from fmutwin.params.base import ParameterError, format_validation_error
        from pydantic import ValidationError

        try:
            return cls.model_validate(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as exc:
            raise ParameterError(f"{path}: not valid JSON: {exc}") from None
        except ValidationError as exc:
            raise ParameterError(format_validation_error(exc, str(path))) from None

    def source(self) -> EchemSource:
        return EchemSource(self.model, self.parameter_set, self.bpx_file, dict(self.parameter_overrides),
                           voltage_margin_V=self.experiment_voltage_margin_V)

    def fit_settings(self) -> FitSettings:
        return FitSettings(n_rc=self.n_rc, soc_grid=tuple(self.soc_grid), tau_soc_grid=tuple(self.tau_soc_grid),
                           high_current_weight=self.high_current_weight, smoothing=self.smoothing,
                           charge_transfer=self.ecm == "nonlinear", concentration=self.ecm == "nonlinear")


def fitted_range(profiles: list[Profile], temperatures_K: list[float]) -> dict[str, float]:
    """The conditions the ECM was fitted on: current (positive = discharge) and temperature; the
    twin warns outside them (:class:`fmutwin.twins.cell_ecm.FittedRangeWarning`)."""
    return {"max_discharge_current_A": max(float(p.current_A.max()) for p in profiles),
            "max_charge_current_A": max(float(-p.current_A.min()) for p in profiles),
            "min_temperature_K": min(temperatures_K), "max_temperature_K": max(temperatures_K)}


class CalibrationRejected(ValueError):
    """A calibration that made the model worse on held-out data (it is not used)."""


def calibrate_source(config: ReductionConfig) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """Run step 1: (PyBaMM overrides with the calibrated values, the model options the fitted
    parameters need (e.g. a contact resistance; not the calibration's thermal model), the
    calibration's record)."""
    from fmutwin.reduction import calibrate as cal

    cfg = config.calibration
    assert cfg is not None
    measured = cfg.data.load("calibration.data")
    end = measured.time_s[0] + cfg.fit_fraction * (measured.time_s[-1] - measured.time_s[0])
    fit = measured.window(measured.time_s[0], end, f"{measured.name} (fitted part)") if cfg.fit_fraction < 1 else measured
    held_out = ([measured.window(end, measured.time_s[-1], f"{measured.name} (held-out part)")]
                if cfg.fit_fraction < 1 else [])
    held_out += [test.load(f"calibration.validation.{i}") for i, test in enumerate(cfg.validation)]
    result = cal.calibrate(model=config.model, parameter_set=config.parameter_set, data=fit,
                           parameters=dict(cfg.parameters), validation=held_out, max_nfev=cfg.max_nfev,
                           parameter_overrides=config.parameter_overrides, prior_weight_V=cfg.prior_weight_V,
                           min_sensitivity_V=cfg.min_sensitivity_V, max_correlation=cfg.max_correlation,
                           thermal=cfg.thermal, max_isothermal_rise_K=cfg.max_isothermal_rise_K,
                           mesh_tolerance_V=cfg.mesh_tolerance_V)
    for name, reason in result.identifiability["not_identifiable"].items():
        log.warning("calibration: %s is not identifiable from %s (%s); left at its initial value", name,
                    measured.name, reason)
    for name in result.at_bound:
        log.warning("calibration: %s ended on a bound (%s): the data pull it further", name, result.bounds[name])
    worse = result.worse_on_validation()
    if worse:
        raise CalibrationRejected("calibration: the calibrated model is worse than the uncalibrated one on held-out "
                                  "data, so no calibrated set is emitted: " + "; ".join(
                                      f"{n}: {result.validation[n]['rms_V'] * 1e3:.2f} mV RMS calibrated vs "
                                      f"{result.validation_initial[n]['rms_V'] * 1e3:.2f} mV uncalibrated"
                                      for n in worse))
    # the experiments keep their own thermal model (isothermal at each table temperature)
    return result.parameter_overrides(), result.parameter_options(), result.to_record()


@dataclass
class ValidationResult:
    """Error of the ECM twin against the electrochemical model on one experiment."""

    experiment: str
    temperature_K: float
    rms_V: float
    max_V: float

    def record(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "temperature_K": self.temperature_K, "rms_V": self.rms_V,
                "max_V": self.max_V}


@dataclass
class ReductionResult:
    """What :func:`reduce` produced."""

    params: CellParameters
    path: Path | None
    fits: list[TemperatureFit]
    validation: list[ValidationResult]
    traces: list[Trace] = field(repr=False, default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)


def run_experiments(source: EchemSource, profiles: list[Profile], temperatures_K: list[float],
                    workers: int = 0) -> dict[float, list[Trace]]:
    """Every profile at every temperature, as independent simulations in parallel (forked)
    processes, longest first so the workers finish together.

    Fork rather than spawn: a spawned worker re-imports the caller's main module, which breaks
    scripts without a ``__main__`` guard. Call this before other PyBaMM work in the process.
    """
    tasks = sorted(((p, t) for t in temperatures_K for p in profiles), key=lambda task: -task[0].current_A.size)
    workers = workers or min(len(tasks), os.cpu_count() or 1)
    if workers <= 1:
        done = {(id(p), t): simulate(source, p, t) for p, t in tasks}
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
            futures = {(id(p), t): pool.submit(simulate, source, p, t) for p, t in tasks}
            try:
                done = {key: f.result() for key, f in futures.items()}
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # report now, not after the queued runs
                raise
    return {t: [done[(id(p), t)] for p in profiles] for t in temperatures_K}


def _over_temperature(temps: list[float], values: list[float]) -> Table | float:
    """One value per temperature: a table over temperature, a number for one temperature."""
    return float(values[0]) if len(temps) == 1 else Table(temperature_K=temps, values=[float(v) for v in values])


def _table(soc: list[float] | None, temps: list[float], columns: np.ndarray) -> Table:
    """A table over (SOC, T) from columns (rows over SOC); over SOC only for one temperature."""
    columns = np.asarray(columns, float)
    if len(temps) == 1:
        return Table(soc=soc, values=columns[:, 0].tolist())
    return Table(soc=soc, temperature_K=temps, values=columns.tolist())


def assemble(name: str, source_text: str, capacity_As: float, ocv_soc: np.ndarray, ocv: np.ndarray,
             entropic: np.ndarray, fits: list[TemperatureFit], thermal: dict[str, float]) -> CellParameters:
    """The fitted ECM as a cell parameter set (no provenance yet)."""
    temps = [f.temperature_K for f in fits]
    soc = [float(s) for s in fits[0].soc_grid]
    tau_soc = [float(s) for s in fits[0].tau_soc_grid]
    same_ocv = np.allclose(ocv, ocv[:, :1], rtol=0, atol=1e-12)
    ocv_table = (Table(soc=ocv_soc.tolist(), values=ocv[:, 0].tolist()) if same_ocv
                 else _table(ocv_soc.tolist(), temps, ocv))
    branches = [RCBranch(resistance_ohm=_table(soc, temps, np.stack([f.resistance_ohm[i] for f in fits], axis=1)),
                         time_constant_s=_table(tau_soc, temps, np.stack([f.time_constant_s[i] for f in fits], axis=1)))
                for i in range(fits[0].resistance_ohm.shape[0])]
    entropic_value: Table | float = 0.0 if np.all(entropic == 0) else _table(ocv_soc.tolist(), temps, entropic)
    charge_transfer = concentration = None
    if fits[0].charge_transfer_voltage_V is not None:
        charge_transfer = ChargeTransfer(
            voltage_V=_table(soc, temps, np.stack([f.charge_transfer_voltage_V for f in fits], axis=1)),
            current_A=_over_temperature(temps, [f.charge_transfer_current_A for f in fits]))
    if fits[0].concentration_time_constant_s is not None:
        concentration = Concentration(
            coefficient_V=_over_temperature(temps, [f.concentration_coefficient_V for f in fits]),
            time_constant_s=_over_temperature(temps, [f.concentration_time_constant_s for f in fits]))
    return CellParameters(
        name=name, source=source_text, nominal_capacity_As=capacity_As, capacity_basis="electrode window",
        ocv_V=ocv_table,
        entropic_coefficient_V_per_K=entropic_value,
        r0_ohm=_table(soc, temps, np.stack([f.r0_ohm for f in fits], axis=1)), rc_branches=branches,
        charge_transfer=charge_transfer, concentration=concentration,
        thermal=Thermal(model="lumped", **thermal), initial=Initial(soc=1.0, temperature_K=temps[len(temps) // 2]))


def validate(params: CellParameters, traces: list[Trace]) -> list[ValidationResult]:
    """Drive the ECM twin with each trace's current at its temperature; compare voltages.

    Traces on one time grid (drive cycles at 1 s, of any length) run as cells of one twin, each
    with its own initial SOC and ambient temperature and zero current once its cycle has ended;
    others run one by one.
    """
    from fmutwin.twins.cell_ecm import CellECMTwin

    constant = params.with_changes(thermal=params.thermal.model_copy(update={"model": "constant"}))
    longest = max(traces, key=lambda tr: tr.profile.time_s.size).profile.time_s if traces else np.zeros(1)
    shared = [tr for tr in traces if np.array_equal(tr.profile.time_s, longest[:tr.profile.time_s.size])]
    voltages: dict[int, np.ndarray] = {}
    if shared:
        n = len(shared)
        twin = CellECMTwin(constant, n_cells=n)
        twin.state["soc"] = np.array([tr.profile.initial_soc for tr in shared])
        ambient = np.array([tr.temperature_K for tr in shared])
        for key in [k for k in twin.state if k.startswith("node_temperature_")]:
            twin.state[key] = ambient.copy()
        steps = max(tr.profile.current_A.size for tr in shared)
        current = np.zeros((steps, n))
        for j, tr in enumerate(shared):
            current[:tr.profile.current_A.size, j] = tr.profile.current_A
        out = twin.run(longest[:steps + 1], current, ambient_temperature_K=ambient)["voltage_V"].reshape(steps, n)
        voltages = {id(tr): out[:tr.profile.current_A.size, j] for j, tr in enumerate(shared)}
    results = []
    for trace in traces:
        p = trace.profile
        if id(trace) not in voltages:
            run_params = constant.with_changes(initial=Initial(soc=p.initial_soc, temperature_K=trace.temperature_K))
            voltages[id(trace)] = CellECMTwin(run_params).run(p.time_s, p.current_A,
                                                              ambient_temperature_K=trace.temperature_K)["voltage_V"]
        errors = error_summary(voltages[id(trace)] - trace.voltage_V)
        results.append(ValidationResult(p.name, trace.temperature_K, errors["rms_V"], errors["max_V"]))
    return results


def reduce(config: ReductionConfig, out_dir: str | Path | None = None, command: str = "fmutwin.reduction.reduce",
           extra_record: dict[str, Any] | None = None) -> ReductionResult:
    """Run the pipeline; write ``<out_dir>/<name>.json`` if ``out_dir`` is given."""
    wall = time.perf_counter()
    source = config.source()
    calibration_record = None
    if config.calibration is not None:
        if config.bpx_file:
            raise ValueError("calibration: calibrates a named parameter set; with bpx_file, calibrate separately")
        log.info("calibrating %s to %s ...", ", ".join(config.calibration.parameters), config.calibration.data.file)
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("fork")) as pool:
            # in a child: this process forks the simulation workers next and stays free of solver state
            overrides, options, calibration_record = pool.submit(calibrate_source, config).result()
        log.info("calibrated: %s", calibration_record["fitted"])
        source = replace(source, parameter_overrides={**source.parameter_overrides, **overrides},
                         model_options={**source.model_options, **options})
    temps = list(config.temperatures_K)
    nominal_Ah = float(source.parameter_values()["Nominal cell capacity [A.h]"])
    hppc = hppc_profile(nominal_Ah, tuple(config.hppc_soc_levels), tuple(config.hppc_pulse_c_rates),
                        tuple(config.hppc_charge_c_rates), fast_charge_max_soc=config.hppc_fast_charge_max_soc)
    fit_profiles = ([hppc] + [c.profile(nominal_Ah) for c in config.fit_cycles]
                    + [constant_current_profile(nominal_Ah, r) for r in config.fit_discharge_c_rates])
    held_out = ([c.profile(nominal_Ah) for c in config.validation_cycles]
                + [constant_current_profile(nominal_Ah, r) for r in config.validation_discharge_c_rates])
    t_sim = time.perf_counter()
    log.info("simulating %d experiments at %d temperature(s) with PyBaMM %s ...",
             len(fit_profiles) + len(held_out), len(temps), config.model)
    traces = run_experiments(source, fit_profiles + held_out, temps, config.workers)
    simulation_s = time.perf_counter() - t_sim

    soh = electrode_soh(source)
    capacity_As = soh["capacity_Ah"] * 3600.0
    ocv_soc = np.linspace(0.0, 1.0, config.ocv_points)
    ocv, entropic = equilibrium_ocv(source, ocv_soc, np.asarray(temps))

    log.info("simulations done in %.1f s; fitting %d RC pair(s) ...", simulation_s, config.n_rc)
    t_fit = time.perf_counter()
    settings = config.fit_settings()
    fits = []
    for j, temp in enumerate(temps):
        data = [fit_data(tr.profile.name, tr.profile.time_s, tr.profile.current_A, tr.voltage_V,
                         tr.profile.initial_soc, capacity_As, ocv_soc, ocv[:, j])
                for tr in map(capacity_window, traces[temp][:len(fit_profiles)])]  # discharges without their knee
        fits.append(fit_temperature(data, temp, settings))
    fit_s = time.perf_counter() - t_fit
    thermal = thermal_properties(source)
    what = config.bpx_file or config.parameter_set
    params = assemble(config.name, f"ECM ({config.n_rc} RC) fitted by fmutwin to PyBaMM {config.model} ({what}) "
                      "simulations; see provenance", capacity_As, ocv_soc, ocv, entropic, fits, thermal)
    t_val = time.perf_counter()
    validation = validate(params, [capacity_window(tr) for temp in temps for tr in traces[temp][len(fit_profiles):]])
    validation_s = time.perf_counter() - t_val

    record: dict[str, Any] = {
        "generated_by": provenance.generated_by(command),
        "environment": provenance.environment(),
        "config": config.model_dump(mode="json"),
        "source_model": source.record(),
        "calibration": calibration_record,
        "electrode_soh": soh,
        "temperatures_K": temps,
        "experiments": [{**p.record(), "role": "fit"} for p in fit_profiles]
                       + [{**p.record(), "role": "validation (held out)"} for p in held_out],
        "ocv": {"method": "equilibrium: U_p(y(SOC), T) - U_n(x(SOC), T) at the electrode-SOH stoichiometries",
                "points": config.ocv_points},
        "thermal": {"method": "PyBaMM lumped model: cell thermal volume x effective heat capacity; "
                              "total heat-transfer coefficient x cooling area", **thermal},
        "fit": {"method": "variable projection: scipy.optimize.least_squares (trf, 2-point differences) over "
                          "log tau, scipy.optimize.lsq_linear (bvls, R >= min) for every R node, SOC-curvature "
                          "penalty; model = fmutwin cell ECM discretisation (exact RC steps)",
                "settings": settings.record(),
                "per_temperature": [{"temperature_K": f.temperature_K, "residuals": f.residuals, "nfev": f.nfev,
                                     "bounds_hit": f.bounds_hit, "wall_time_s": f.wall_time_s} for f in fits]},
        "fitted_range": fitted_range(fit_profiles, temps),
        "validation": [v.record() for v in validation],
        "timings_s": {"simulation": simulation_s, "fit": fit_s, "validation": validation_s},
        **(extra_record or {}),
    }
    params = provenance.attach(params, record)
    path = None
    if out_dir is not None:
        path = Path(out_dir) / f"{config.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        params.save(path)
    timings = {"simulation": simulation_s, "fit": fit_s, "validation": validation_s,
               "total": time.perf_counter() - wall}
    return ReductionResult(params, path, fits, validation, [tr for t in temps for tr in traces[t]], timings)
