"""Run the monolithic 96s4p pack (``PackTwin``: 8 modules of 12s4p, cold plates in one coolant loop,
an enclosure) over the WLTC power demand and plot it.

Usage: python cosim_examples/pack_wltc.py [--repeats 2] [--flow 0.05] [--out out]

WLTC (``../shared/data/drive_cycles/WLTC.csv``) is a vehicle's battery power (positive =
discharge), averaged over each second; the pack turns it into current with its own voltage each
step (``PackTwin.step_power``). The electrical-thermal coupling is solved inside every step, so this
is the reference a co-simulation of the module and pack-thermal FMUs is measured against. Writes
``out/pack_wltc.csv`` (pack-level columns) and ``out/pack_wltc.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fmutwin.data import power_per_second
from fmutwin.params.defaults import default_pack_parameters
from fmutwin.report import plot_pack_run, write_csv
from fmutwin.twins.pack import PackTwin


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2, help="WLTC cycles back to back")
    ap.add_argument("--flow", type=float, default=0.05, help="coolant mass flow [kg/s]")
    ap.add_argument("--inlet", type=float, default=293.15, help="coolant inlet temperature [K]")
    ap.add_argument("--ambient", type=float, default=303.15, help="ambient temperature [K]")
    ap.add_argument("--out", type=Path, default=Path("out"))
    args = ap.parse_args()

    seconds, power = power_per_second("WLTC")
    period = seconds[-1]
    time_s = np.arange(0.0, args.repeats * period + 1.0)
    demand = np.tile(power, args.repeats)
    params = default_pack_parameters()
    pack = PackTwin(params)
    t0 = time.perf_counter()
    out = pack.run(time_s, power_W=demand, coolant_flow_kg_per_s=args.flow, coolant_inlet_temperature_K=args.inlet,
                   ambient_temperature_K=args.ambient)
    wall = time.perf_counter() - t0

    args.out.mkdir(parents=True, exist_ok=True)
    scalar = {k: v for k, v in out.items() if np.ndim(v) == 1}
    scalar["power_demand_W"] = demand
    write_csv(args.out / "pack_wltc.csv", scalar)
    plot_pack_run(args.out / "pack_wltc.png", out, f"{params.name}: WLTC x{args.repeats}, coolant {args.flow} kg/s "
                  f"at {args.inlet - 273.15:.0f} degC, ambient {args.ambient - 273.15:.0f} degC")
    cells = out["cell_soc"].shape[1]
    print(f"{params.name}: {len(demand)} steps of 1 s, {cells} cells, {wall:.1f} s wall "
          f"({cells * len(demand) / wall:,.0f} cell-steps/s)")
    print(f"pack voltage {out['pack_voltage_V'].min():.1f}..{out['pack_voltage_V'].max():.1f} V, current "
          f"{out['pack_current_A'].min():.0f}..{out['pack_current_A'].max():.0f} A; SOC {out['max_cell_soc'][0]:.4f} "
          f"-> {out['min_cell_soc'][-1]:.4f} (spread {out['cell_soc_spread'][-1]:.4f}); hottest cell "
          f"{out['max_cell_temperature_K'].max() - 273.15:.2f} degC, outlet {out['outlet_temperature_K'][-1] - 273.15:.2f}"
          f" degC")
    print(f"wrote {args.out / 'pack_wltc.csv'} and {args.out / 'pack_wltc.png'}")


if __name__ == "__main__":
    main()
