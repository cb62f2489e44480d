"""More pack co-simulations of the flagship's FMUs: a hot US06 with a coolant-pump failure, a cold
fast charge under the BMS's CC-CV, and an internal short in one cell that the BMS flags.

Usage: python cosim_examples/pack_scenarios.py [us06-hot-pump-failure | fast-charge-cold | internal-short]
       [--out out/scenarios]

* ``us06-hot-pump-failure``: US06 (``../shared/data``, one cell's current, times 40 for the
  pack's 4 x 50 Ah elements: up to 1.6C discharge) three times back to back at 40 degC ambient,
  coolant at 25 degC, its pump failing at 600 s (an Event forcing ``thermal.coolantFlow`` = 0):
  the plates and cells heat up with nothing carrying heat away; the BMS's derated limits and
  over-temperature alarm show it. Iterated coupling of modules and thermal.
* ``fast-charge-cold``: from 10 % SoC with everything at 0 degC, a charger connected: the modules
  and the BMS carry minus the BMS's CC-CV request (``bms.chargeCurrentRequest``, connected with a
  gain of -1), which its temperature derating holds at 0.2C until the cells warm; one hour.
* ``internal-short``: WLTC as the flagship, with an internal short (0.1 Ohm across the OCV) in
  cell 5 of module 3 (the first cell of its second element, where that element's temperature
  sensor sits) from 300 s: the Module FMU is built from the flagship module file with the short in
  its cell file, and ``internalShortScale`` (a per-cell parameter) puts it in that one cell only.
  The cell heats by about 160 W (to 50 degC, below the 60 degC over-temperature threshold); 36 s
  after the short the BMS flags that element's temperature sensor (10 K above the median of all
  96), an alarm that stops charge and discharge: its limits, and the load's current, go to zero.
  15 minutes.

Each writes ``<out>/<scenario>/results.csv`` (pack-level columns, streamed) and ``<scenario>.png``.
Positive current discharges the pack.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from fmutwin.cosim import Event, Execution, FileWriter, InputSource, Iterated
from fmutwin.data import drive_cycle
from fmutwin.pack_cosim import build_pack_fmus, pack_system
from fmutwin.params.flagship import flagship_pack_parameters
from fmutwin.report import finish_figure

N_MODULES = 8
WATCH = ["thermal.plateTemperature", "thermal.outletTemperature", "thermal.enclosureTemperature",
         "thermal.heatToCoolant", "bms.dischargeCurrentLimit", "bms.chargeCurrentLimit", "bms.chargeCurrentRequest",
         "bms.packSocMean", "bms.alarmAny", "bms.alarmOverTemperature", "bms.chargeComplete",
         *[f"module{m + 1}.{v}" for m in range(N_MODULES) for v in ("moduleVoltage", "moduleCurrent",
                                                                     "maxCellTemperature", "maxCellVoltage",
                                                                     "minCellSoc", "maxCellSoc")]]


def us06_hot_pump_failure(fmus: dict, out: Path) -> dict:
    t_cycle, current = drive_cycle("US06", scale=40.0)
    time_s = np.concatenate([t_cycle + k * (t_cycle[-1] + 1.0) for k in range(3)])
    current = np.tile(current, 3)
    system = pack_system(fmus, flagship_pack_parameters(), coolant_inlet_temperature_K=298.15,
                         ambient_temperature_K=313.15, with_load=False, initial_temperature_K=313.15,
                         name="us06_hot_pump_failure")
    sources = [InputSource(f"module{m + 1}.current", time_s, current) for m in range(N_MODULES)]
    sources.append(InputSource("bms.packCurrent", time_s, current))
    pump = Event(inputs={"thermal.coolantFlow": 0.0}, time_s=600.0, name="coolant pump failure")
    group = [f"module{m + 1}" for m in range(N_MODULES)] + ["thermal"]
    return _run(system, Iterated(group=group), [*sources, pump], float(time_s[-1]), out)


def fast_charge_cold(fmus: dict, out: Path) -> dict:
    system = pack_system(fmus, flagship_pack_parameters(), coolant_flow_kg_per_s=0.05,
                         coolant_inlet_temperature_K=273.15, ambient_temperature_K=273.15, with_load=False,
                         charger=True, initial_temperature_K=273.15, initial_soc=0.1, name="fast_charge_cold")
    return _run(system, "gauss-seidel", [], 3600.0, out)


SHORT_MODULE, SHORT_CELL = 3, 5  # 1-based: module 3, cell 5 (element 2, position 1)


def internal_short(fmus: dict, out: Path) -> dict:
    import dataclasses

    from fmutwin.data import power_per_second
    from fmutwin.fmi.native.build import build_native
    from fmutwin.params.flagship import flagship_cell, flagship_module, flagship_pack
    from fmutwin.registry import TWINS

    folder = out / "internal_short_fmus"
    folder.mkdir(parents=True, exist_ok=True)
    cell = flagship_cell().with_changes(faults={"internal_short": {"trigger": {"kind": "time", "time_s": 300.0},
                                                                   "resistance_ohm": 0.1}})
    module = flagship_module(cell)
    module_file = folder / "module_with_short.json"
    module.save(module_file)
    faulted = build_native(dataclasses.replace(TWINS["module"], parameter_file=lambda: module_file), folder, 3)
    pack = flagship_pack(module)
    n = pack.module.n_cells
    scale = [0.0] * (pack.n_modules * n)
    scale[(SHORT_MODULE - 1) * n + SHORT_CELL - 1] = 1.0
    pack = pack.model_copy(update={"realised": {**pack.realised, "internal_short_scale": scale}})
    system = pack_system({**fmus, "module": faulted}, pack, name="internal_short")
    seconds, power = power_per_second("WLTC")
    group = [f"module{m + 1}" for m in range(N_MODULES)] + ["thermal"]
    return _run(system, Iterated(group=group), [InputSource("load.powerDemand", seconds[:-1], power)], 900.0, out,
                extra=[f"module{SHORT_MODULE}.cellTemperature[{SHORT_CELL}]", "load.current", "load.demandedCurrent",
                       "bms.alarmTemperatureSensor", "bms.alarmVoltageSensor"])


def _run(system, algorithm, manipulators, stop_s: float, out: Path, extra: tuple | list = ()) -> dict:
    folder = out / system.name
    writer = FileWriter(folder / "results.csv", [*WATCH, *extra])
    result = Execution(system, algorithm=algorithm, manipulators=manipulators, observers=[writer]).run(stop_s, 1.0)
    _plot(folder / f"{system.name}.png", result, system.name)
    return result


def _plot(path: Path, r: dict, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = r["time"] / 60.0
    fig, ax = plt.subplots(3, 1, figsize=(10, 10), sharex=True)
    current = r["module1.moduleCurrent"]
    ax[0].plot(t, current, "C0", lw=0.6, label="pack current [A] (+ = discharge)")
    ax[0].plot(t, r["bms.dischargeCurrentLimit"], "C3--", lw=0.8, label="BMS discharge limit")
    ax[0].plot(t, -r["bms.chargeCurrentLimit"], "C2--", lw=0.8, label="-BMS charge limit")
    ax[0].legend(fontsize=8)
    ax[0].set_ylabel("A")
    for m in range(N_MODULES):
        ax[1].plot(t, r[f"module{m + 1}.maxCellTemperature"] - 273.15, color="C3", lw=0.5,
                   label="hottest cell per module" if m == 0 else None)
        ax[1].plot(t, r[f"thermal.plateTemperature[{m + 1}]"] - 273.15, color="0.5", lw=0.5,
                   label="cold plates" if m == 0 else None)
    ax[1].plot(t, r["thermal.outletTemperature"] - 273.15, "C0", label="coolant outlet")
    ax[1].plot(t, r["thermal.enclosureTemperature"] - 273.15, "C1", label="enclosure")
    ax[1].set_ylabel("degC")
    ax[1].legend(fontsize=8)
    soc_lo = np.min([r[f"module{m + 1}.minCellSoc"] for m in range(N_MODULES)], axis=0)
    soc_hi = np.max([r[f"module{m + 1}.maxCellSoc"] for m in range(N_MODULES)], axis=0)
    ax[2].fill_between(t, soc_lo, soc_hi, color="C1", alpha=0.5, label="true cell SoC, lowest to highest")
    ax[2].plot(t, r["bms.packSocMean"], "C0", label="BMS mean element SoC")
    ax[2].plot(t, r["bms.alarmAny"], "C3", lw=0.8, label="BMS: any alarm (0/1)")
    ax[2].set_ylabel("SoC")
    ax[2].set_xlabel("time [min]")
    ax[2].legend(fontsize=8)
    finish_figure(fig, ax, path, title)


SCENARIOS = {"us06-hot-pump-failure": us06_hot_pump_failure, "fast-charge-cold": fast_charge_cold,
             "internal-short": internal_short}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", default=list(SCENARIOS), help=f"any of {', '.join(SCENARIOS)} (default all)")
    ap.add_argument("--fmus", type=Path, default=Path("out/pack_fmus"))
    ap.add_argument("--out", type=Path, default=Path("out/scenarios"))
    args = ap.parse_args()
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario {', '.join(unknown)}; one of {', '.join(SCENARIOS)}")
    fmus = build_pack_fmus(args.fmus)  # built where missing or stale
    for name in args.scenarios:
        r = SCENARIOS[name](fmus, args.out)
        hottest = max(r[f"module{m + 1}.maxCellTemperature"].max() for m in range(N_MODULES)) - 273.15
        alarms = int(r["bms.alarmAny"].max())
        print(f"{name}: {len(r['time']) - 1} steps; hottest cell {hottest:.1f} degC; SoC (BMS mean) "
              f"{r['bms.packSocMean'][1]:.3f} -> {r['bms.packSocMean'][-1]:.3f}; current "
              f"{r['module1.moduleCurrent'].min():.0f}..{r['module1.moduleCurrent'].max():.0f} A; "
              f"{'an alarm was raised' if alarms else 'no alarm'}; wrote {args.out / name.replace('-', '_')}")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # past pythonfmu's exit-time abort (docs/fmi.md, issue 16); every result is written
