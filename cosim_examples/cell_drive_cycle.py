"""Run the default cell ECM twin over a drive cycle; write a CSV and a PNG plot.

Usage: python cosim_examples/cell_drive_cycle.py [--cycle US06] [--scale 10] [--out out/]

The shared drive cycles are scaled to a ~5 Ah cell (peak 8.1 A); the default parameter set is
PyBaMM's 100 Ah ECM example, so the current is scaled by 10 by default (peak 81 A, about 0.8C).
Positive current discharges the cell.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fmutwin.params import default_cell_parameters
from fmutwin.report import plot_run, write_csv
from fmutwin.data import drive_cycle
from fmutwin.twins import CellECMTwin


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycle", default="US06", help="US06 or UDDS (../shared/data/drive_cycles)")
    ap.add_argument("--scale", type=float, default=10.0, help="current scale factor [1]")
    ap.add_argument("--repeat", type=int, default=3, help="how many times to run the cycle back to back")
    ap.add_argument("--out", type=Path, default=Path("out"), help="output folder")
    args = ap.parse_args()

    time_s, current_A = drive_cycle(args.cycle, scale=args.scale)
    time_s, current_A = _repeat(time_s, current_A, args.repeat)
    twin = CellECMTwin(default_cell_parameters().with_changes(initial={"soc": 0.9, "temperature_K": 298.15}))
    result = twin.run(time_s, current_A, ambient_temperature_K=298.15)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"cell_{args.cycle.lower()}"
    write_csv(stem.with_suffix(".csv"), result)
    plot_run(stem.with_suffix(".png"), result, title=f"fmutwin cell ECM, {args.cycle} x{args.repeat}, current x{args.scale:g}")
    print(f"wrote {stem}.csv and {stem}.png: SOC {result['soc'][0]:.3f} -> {result['soc'][-1]:.3f}, "
          f"voltage {result['voltage_V'].min():.3f}..{result['voltage_V'].max():.3f} V, "
          f"max temperature {result['temperature_K'].max() - 273.15:.2f} degC")


def _repeat(time_s, current_A, n):
    import numpy as np

    period = time_s[-1] + (time_s[1] - time_s[0])
    t = np.concatenate([time_s + k * period for k in range(n)])
    return t, np.tile(current_A, n)


if __name__ == "__main__":
    main()
