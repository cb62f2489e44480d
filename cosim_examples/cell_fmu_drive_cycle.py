"""Co-simulate the cell ECM FMU (built by build_fmus.py) over a drive cycle with fmpy.

Usage: python cosim_examples/cell_fmu_drive_cycle.py [--fmu out/fmus/CellECM_fmi2.fmu] [--cycle US06]

The drive cycle current (positive = discharge) is scaled x10 to PyBaMM's 100 Ah example cell and
fed to the FMU's ``current`` input at every 1 s communication step; the result is written as CSV
and PNG and compared with the numpy twin called directly (the two agree to rounding).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import fmpy
import numpy as np

from fmutwin.data import drive_cycle
from fmutwin.params import default_cell_parameters
from fmutwin.report import plot_run, write_csv
from fmutwin.twins import CellECMTwin

AMBIENT_K = 298.15
OUTPUTS = {"batteryCurrent": "current_A", "batteryVoltage": "voltage_V", "ocv": "ocv_V", "stateOfCharge": "soc",
           "batteryTemperature": "temperature_K", "heatGenerationRate": "heat_generation_W"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fmu", type=Path, default=Path("out/fmus/CellECM_fmi2.fmu"))
    ap.add_argument("--cycle", default="US06")
    ap.add_argument("--out", type=Path, default=Path("out"))
    args = ap.parse_args()
    if not args.fmu.is_file():
        raise SystemExit(f"{args.fmu} not found: run `python build_fmus.py` first")

    time_s, current = drive_cycle(args.cycle, scale=10.0)
    # every input of the FMU is given (ambient 25 degC, no external heat), so fmpy has nothing to warn about
    signal = np.array([(t, i, AMBIENT_K, 0.0) for t, i in zip(time_s, current)],
                      dtype=[("time", float), ("current", float), ("ambientTemperature", float), ("heatFlow", float)])
    result = fmpy.simulate_fmu(str(args.fmu), stop_time=float(time_s[-1]), step_size=1.0, output_interval=1.0,
                               input=signal, start_values={"initialSoc": 0.9}, output=list(OUTPUTS))
    run = {"time_s": result["time"], **{key: result[name] for name, key in OUTPUTS.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"cell_fmu_{args.cycle.lower()}"
    write_csv(stem.with_suffix(".csv"), run)
    plot_run(stem.with_suffix(".png"), run, title=f"{args.fmu.name} in fmpy, {args.cycle}, current x10")

    twin = CellECMTwin(default_cell_parameters().with_changes(initial={"soc": 0.9, "temperature_K": 298.15}))
    reference = twin.run(time_s, current)
    deviation = np.max(np.abs(run["voltage_V"][1:] - reference["voltage_V"]))
    print(f"wrote {stem}.csv and {stem}.png; SOC {run['soc'][0]:.3f} -> {run['soc'][-1]:.3f}; "
          f"max |V_fmu - V_twin| = {deviation:.2e} V")


if __name__ == "__main__":
    main()
