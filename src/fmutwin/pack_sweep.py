"""Scenario sweeps of the pack co-simulation (``fmutwin sweep SWEEP_FILE``): drive cycle x ambient
temperature x cooling strategy x cell-variation seed x aging state, each scenario the flagship
pack of :mod:`fmutwin.pack_cosim` run by the master, one result row per scenario through
:mod:`fmutwin.cosim.sweep` (a local process pool, or Dask distributed).

A sweep file (JSON, every field checked, unknown keys refused)::

    {"name": "summer", "stop_s": 600, "algorithm": "gauss-seidel",
     "grid": {"cycle": ["WLTC", "highway.csv"], "ambient_C": [0, 25, 40], "cooling": ["off", "nominal"],
              "seed": [0, 1], "capacity_soh": [1.0, 0.8]},
     "scenarios": [{"cycle": "WLTC", "ambient_C": 45, "cooling": "high"}]}

Scenarios are the grid's product plus the listed ones; a field left out takes
:class:`Scenario`'s default. A scenario's cells, plates and enclosure start at its ambient
temperature; ``seed`` k > 0 redraws the pack's cell variation with every distribution's seed
shifted by k (0: the flagship file's draw); the aging state is ``capacity_soh`` (every cell's
capacity scaled) and ``resistance_growth`` (R0 and RC resistances scaled by 1 + it), or
``aging_cycles`` (equivalent full cycles at the start, for a cell file with a cycling-aging model).

The row (positive current = discharge): min / max cell voltage [V], max cell temperature and the
largest cell temperature spread [K], energy delivered at the pack terminals [J] (negative:
regeneration exceeded the discharge), heat rejected to the coolant and to ambient [J], the BMS's
SoC estimation error against the true element SoC (RMS and max), time at a BMS current limit
(the load's current clamped below its demand) and time with any BMS alarm [s], and the times:
setup (system, FMU extraction on a worker's first scenario), simulation, results.
"""

from __future__ import annotations

import functools
import itertools
import json
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: coolant mass flow of each cooling strategy [kg/s]
COOLING = {"off": 0.0, "low": 0.02, "nominal": 0.05, "high": 0.2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Scenario(_Strict):
    """One scenario's fields and their defaults (positive power = discharge)."""

    cycle: str = Field("WLTC", description="a power-demand cycle: WLTC, or a CSV file of time [s], power [kW]")
    ambient_C: float = Field(25.0, ge=-40, le=80, description="ambient and initial temperature [degC]")
    cooling: Literal["off", "low", "nominal", "high"] = Field("nominal", description="coolant flow strategy")
    coolant_inlet_C: float = Field(20.0, ge=-40, le=80, description="coolant inlet temperature [degC]")
    seed: int = Field(0, ge=0, description="cell-variation seed shift (0: the flagship file's draw)")
    capacity_soh: float = Field(1.0, gt=0.3, le=1.0, description="aging: every cell's capacity scaled by this")
    resistance_growth: float = Field(0.0, ge=0.0, le=5.0, description="aging: every cell's R0 and RC resistances "
                                     "scaled by 1 + this")
    aging_cycles: float | None = Field(None, ge=0, le=1e5, description="aging: equivalent full cycles of every cell "
                                       "(a cell file with a cycling-aging model only)")
    initial_soc: float | None = Field(None, ge=0, le=1, description="mean initial SoC (null: the file's)")


class SweepFile(_Strict):
    """A sweep file: its run settings, a grid (every combination) and/or a list of scenarios."""

    name: str = "sweep"
    stop_s: float | None = Field(None, gt=0, description="simulated time per scenario [s], whole seconds (null: "
                                 "the whole cycle)")
    algorithm: Literal["jacobi", "gauss-seidel"] = "gauss-seidel"
    grid: dict[Literal["cycle", "ambient_C", "cooling", "coolant_inlet_C", "seed", "capacity_soh",
                       "resistance_growth", "aging_cycles", "initial_soc"], list[Any]] | None = None
    scenarios: list[dict[str, Any]] | None = None

    @field_validator("stop_s")
    @classmethod
    def _whole_seconds(cls, v: float | None) -> float | None:
        if v is not None and v != int(v):
            raise ValueError(f"{v} s is not a whole number of the 1 s steps")
        return v


class SweepError(ValueError):
    """A sweep file that cannot run; the message names the field."""


def load_sweep(path: str | Path) -> tuple[SweepFile, dict[str, dict[str, Any]]]:
    """The sweep file and its scenarios by id (each checked as a :class:`Scenario`; a cycle CSV
    path is relative to the sweep file)."""
    path = Path(path)
    try:
        sweep = SweepFile.model_validate(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise SweepError(f"{path}: cannot read the sweep file ({exc})") from None
    except ValidationError as exc:
        raise SweepError(f"{path}: {_first_error(exc)}") from None
    return sweep, scenarios_of(sweep, str(path), path.parent)


def scenarios_of(sweep: SweepFile, where: str = "sweep", base: Path | None = None) -> dict[str, dict[str, Any]]:
    """The grid's product and the listed scenarios, by id: every field that differs from its
    default, ``cycle=WLTC,ambient_C=25.0,...`` (the same scenario twice is run once). A cycle
    that is not a power cycle, or aging cycles for a cell without a cycling-aging model, are
    refused here, before anything runs."""
    from fmutwin.data import drive_cycle_power
    from fmutwin.params.flagship import flagship_pack_parameters

    listed = list(sweep.scenarios or [])
    if sweep.grid:
        keys = list(sweep.grid)
        listed += [dict(zip(keys, combo)) for combo in itertools.product(*(sweep.grid[k] for k in keys))]
    if not listed:
        raise SweepError(f"{where}: no scenarios (give a grid or a list)")
    defaults = Scenario().model_dump()
    checked: set[str] = set()
    out: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(listed):
        try:
            scenario = Scenario.model_validate(raw).model_dump()
        except ValidationError as exc:
            raise SweepError(f"{where}: scenario {i + 1} {raw}: {_first_error(exc)}") from None
        cycle = scenario["cycle"]
        if cycle.lower().endswith(".csv"):
            scenario["cycle"] = cycle = str((Path(base or ".") / cycle).resolve())
        else:
            scenario["cycle"] = cycle = cycle.upper()
        if cycle not in checked:
            try:
                drive_cycle_power(cycle)
            except (OSError, ValueError) as exc:
                raise SweepError(f"{where}: scenario {i + 1}: cycle: {exc}") from None
            checked.add(cycle)
        if scenario["aging_cycles"] is not None and flagship_pack_parameters().module.cell.cycling_aging is None:
            raise SweepError(f"{where}: scenario {i + 1}: aging_cycles: the pack's cell file has no cycling-aging "
                             "model; give capacity_soh and resistance_growth instead")
        key = ",".join(f"{k}={Path(v).name if k == 'cycle' else v}" for k, v in scenario.items()
                       if k in ("cycle", "ambient_C", "cooling", "seed") or v != defaults[k])
        out.setdefault(key, scenario)
    return out


def _first_error(exc: ValidationError) -> str:
    e = exc.errors()[0]
    return f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}"


def run(sweep: SweepFile, scenarios: dict[str, dict[str, Any]], out: Path, fmus: Path, scheduler: Any = None,
        workers: int = 1, progress: bool = True, retry_failed: bool = False) -> list[str]:
    """Build the pack's FMUs into ``fmus`` once (skipped when current), then run the scenarios
    into ``out/rows`` (see :func:`fmutwin.cosim.sweep.run_sweep`; the stop time, algorithm and
    FMU stamps are its settings: rows of other settings are never mixed in); the ids run now. On
    a Dask cluster every worker must see the FMU folder and the cycle files at the same paths."""
    from fmutwin.cosim.sweep import run_sweep
    from fmutwin.pack_cosim import build_pack_fmus

    paths = build_pack_fmus(fmus)
    task = functools.partial(run_scenario, fmus={k: str(Path(p).resolve()) for k, p in paths.items()},
                             stop_s=sweep.stop_s, algorithm=sweep.algorithm)
    settings = {"stop_s": sweep.stop_s, "algorithm": sweep.algorithm,
                "fmus": {k: json.loads(Path(f"{p}.stamp.json").read_text()) for k, p in paths.items()}}
    return run_sweep(scenarios, task, Path(out) / "rows", scheduler, workers, progress, retry_failed, settings)


#: what a worker process keeps between scenarios: the FMUs' extracted folders
_WORKER: dict[str, Any] = {"extracted": {}}


def run_scenario(scenario: dict[str, Any], fmus: dict[str, str], stop_s: float | None = None,
                 algorithm: str = "gauss-seidel") -> dict[str, Any]:
    """One scenario's row (see the module docstring)."""
    from fmutwin.cosim import Execution, InputSource, Recorder
    from fmutwin.data import power_per_second
    from fmutwin.pack_cosim import pack_system

    t0 = time.perf_counter()
    s = Scenario.model_validate(scenario)
    pack = scenario_pack(s.seed, s.capacity_soh, s.resistance_growth, s.aging_cycles)
    ambient_K = s.ambient_C + 273.15
    system = pack_system({k: Path(v) for k, v in fmus.items()}, pack, coolant_flow_kg_per_s=COOLING[s.cooling],
                         coolant_inlet_temperature_K=s.coolant_inlet_C + 273.15, ambient_temperature_K=ambient_K,
                         initial_temperature_K=ambient_K, initial_soc=s.initial_soc, name="scenario")
    seconds, power = power_per_second(s.cycle)  # checked by scenarios_of
    stop = float(seconds[-1]) if stop_s is None else min(float(stop_s), float(seconds[-1]))
    ms, ns, npar = pack.n_modules, pack.module.n_series, pack.module.n_parallel
    modules = [f"module{m + 1}" for m in range(ms)]
    wanted = ["load.current", "load.demandedCurrent", "load.power", "thermal.heatToCoolant", "thermal.heatToAmbient",
              "bms.alarmAny", *(f"bms.soc[{e + 1}]" for e in range(ms * ns)),
              *(f"{m}.{v}" for m in modules for v in ("minCellVoltage", "maxCellVoltage", "minCellTemperature",
                                                      "maxCellTemperature")),
              *(f"{m}.cellSoc[{c + 1}]" for m in modules for c in range(ns * npar))]
    recorder = Recorder(wanted)
    execution = Execution(system, algorithm, [recorder], [InputSource("load.powerDemand", seconds[:-1], power)],
                          progress=False, extracted=_WORKER["extracted"])
    r = execution.run(stop, 1.0)
    t1 = time.perf_counter()
    row = pack_metrics(r, ms, ns, npar)
    row.update(setup_s=(t1 - t0) - execution.stats.loop_s, simulation_s=execution.stats.loop_s,
               results_s=time.perf_counter() - t1, steps=execution.stats.steps)
    return row


def pack_metrics(r: dict[str, np.ndarray], n_modules: int, n_series: int, n_parallel: int) -> dict[str, float]:
    """The row's quantities from a recorded run (the first row is the start, then one per step)."""
    from fmutwin.pack_cosim import element_true_soc

    modules = [f"module{m + 1}" for m in range(n_modules)]
    dt = np.diff(r["time"])
    stepped = slice(1, None)  # values at the end of each step
    t_max = np.max([r[f"{m}.maxCellTemperature"] for m in modules], axis=0)
    t_min = np.min([r[f"{m}.minCellTemperature"] for m in modules], axis=0)
    true = element_true_soc(r, n_modules, n_series, n_parallel)
    estimated = np.column_stack([r[f"bms.soc[{e + 1}]"] for e in range(n_modules * n_series)])
    err = (estimated - true)[stepped]
    clamped = np.abs(r["load.current"] - r["load.demandedCurrent"]) > 1e-9 * (1.0 + np.abs(r["load.demandedCurrent"]))
    return {
        "min_cell_voltage_V": float(np.min([r[f"{m}.minCellVoltage"] for m in modules])),
        "max_cell_voltage_V": float(np.max([r[f"{m}.maxCellVoltage"] for m in modules])),
        "max_cell_temperature_K": float(t_max.max()),
        "max_temperature_spread_K": float((t_max - t_min).max()),
        "energy_delivered_J": float(np.sum(r["load.power"][stepped] * dt)),
        "heat_to_coolant_J": float(np.sum(r["thermal.heatToCoolant"][stepped] * dt)),
        "heat_to_ambient_J": float(np.sum(r["thermal.heatToAmbient"][stepped] * dt)),
        "soc_error_rms": float(np.sqrt(np.mean(err ** 2))),
        "soc_error_max": float(np.abs(err).max()),
        "time_at_limit_s": float(np.sum(dt[clamped[stepped]])),
        "alarm_time_s": float(np.sum(dt[r["bms.alarmAny"][stepped] != 0])),
    }


def scenario_pack(seed: int, capacity_soh: float = 1.0, resistance_growth: float = 0.0,
                  aging_cycles: float | None = None) -> Any:
    """The flagship pack with its variation redrawn with every distribution's seed shifted by
    ``seed`` (0: the file's own draw), every cell's capacity scaled by ``capacity_soh`` and its
    resistances by ``1 + resistance_growth``, and every cell at ``aging_cycles`` (None: the file's)."""
    from fmutwin.params.flagship import flagship_pack_parameters
    from fmutwin.params.module import VARYING, Distribution

    pack = flagship_pack_parameters()
    if seed:
        variation = pack.module.variation
        shifted = {k: d.model_copy(update={"seed": d.seed + seed}) for k in VARYING
                   if isinstance(d := getattr(variation, k), Distribution)}
        module = pack.module.model_copy(update={"variation": variation.model_copy(update=shifted)})
        pack = pack.model_copy(update={"module": module, "realised": None}).realise()
    realised = dict(pack.realised or {})
    n = pack.n_modules * pack.module.n_cells
    for key, factor in (("capacity_scale", capacity_soh), ("r0_scale", 1.0 + resistance_growth),
                        ("rc_resistance_scale", 1.0 + resistance_growth)):
        if factor != 1.0:
            realised[key] = [v * factor for v in realised.get(key, [1.0] * n)]
    if aging_cycles is not None:
        realised["initial_cycles"] = [float(aging_cycles)] * n
    return pack.model_copy(update={"realised": realised})
