"""The flagship: co-simulate the 96s4p pack from its FMUs over WLTC and plot it (the README's main job).

Usage: python cosim_examples/pack_cosim.py [--cycle WLTC] [--algorithm iterated] [--out out/pack_cosim] [--fmi 2]

Eight native Module FMUs (12s4p each, FMI 3.0, the cells an ECM reduced from PyBaMM's DFN, each
module with its share of the pack's cell variation), the native PackThermal FMU (FMI 2.0: cold
plates in one coolant loop, enclosure), the native Bms FMU (FMI 3.0: EKF SoC of all 96 elements,
current limits, balancing) and the native PowerLoad FMU (FMI 2.0), coupled by fmutwin's master
(fmutwin.pack_cosim); with --fmi 2 every FMU is FMI 2.0 (a system `fmutwin export-ssp` and
`fmutwin export-fmu` can export). The drive cycle is a vehicle's battery power (positive = discharge); the
load turns it into the pack current with the module voltages it measures at the start of each
1 s step, clamped to the BMS's current limits. Coolant 0.05 kg/s at 20 degC, ambient 25 degC.

Writes into --out: pack.ssd (the system, with every module's realised variation), results.parquet
(every output of every FMU, streamed as it runs; .meta.json beside it holds the provenance of
every FMU) and pack_cosim.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fmutwin.cosim import Execution, FileWriter, InputSource, Iterated, save
from fmutwin.data import power_per_second
from fmutwin.pack_cosim import build_pack_fmus, element_true_soc, fmu_provenance, pack_system
from fmutwin.params.flagship import flagship_pack_parameters
from fmutwin.report import plot_pack_cosim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycle", default="WLTC", help="drive cycle of ../shared/data (a power profile)")
    ap.add_argument("--algorithm", default="iterated", choices=["jacobi", "gauss-seidel", "iterated"])
    ap.add_argument("--fmus", type=Path, default=Path("out/pack_fmus"), help="where the pack's FMUs are (built "
                    "where missing or stale)")
    ap.add_argument("--out", type=Path, default=Path("out/pack_cosim"))
    ap.add_argument("--stop", type=float, default=None, help="stop time [s] (default: the whole cycle)")
    ap.add_argument("--fmi", type=int, choices=[2, 3], default=None, help="every FMU in this FMI version (default: "
                    "modules and BMS 3.0, thermal and load 2.0); 2 for a system `fmutwin export-ssp` can export")
    args = ap.parse_args()

    print(f"the pack's FMUs in {args.fmus} (built where missing or stale) ...")
    fmus = build_pack_fmus(args.fmus, args.fmi)
    pack = flagship_pack_parameters()
    system = pack_system(fmus, pack, name=f"{pack.name}_{args.cycle}")
    args.out.mkdir(parents=True, exist_ok=True)
    save(system, args.out / "pack.ssd")

    seconds, power = power_per_second(args.cycle)
    algorithm = Iterated(group=[c.name for c in system.components if c.name.startswith("module")] + ["thermal"]) \
        if args.algorithm == "iterated" else args.algorithm
    writer = FileWriter(args.out / "results.parquet", metadata={"system": str(args.out / "pack.ssd"),
                                                                 "fmus": fmu_provenance(fmus)})
    execution = Execution(system, algorithm=algorithm, observers=[writer],
                          manipulators=[InputSource("load.powerDemand", seconds[:-1], power)])
    t0 = time.perf_counter()
    result = execution.run(stop_s=args.stop or float(seconds[-1]), step_s=1.0)
    wall = time.perf_counter() - t0

    ms, ns, npar = pack.n_modules, pack.module.n_series, pack.module.n_parallel
    true_soc = element_true_soc(result, ms, ns, npar)
    estimated = np.column_stack([result[f"bms.soc[{e + 1}]"] for e in range(ms * ns)])
    plot_pack_cosim(args.out / "pack_cosim.png", result, true_soc, estimated, ms,
                    f"{pack.name} co-simulated from 11 FMUs: {args.cycle}, {args.algorithm} coupling, 1 s steps")
    err = estimated[1:] - true_soc[1:]
    iterations = execution.stats.iterations
    print(f"{system.name}: {len(result['time']) - 1} steps of 1 s in {wall:.1f} s wall"
          + (f", {np.mean(iterations):.1f} sweeps per step (max {max(iterations)})" if iterations else ""))
    voltage = result["load.packVoltage"][1:]
    current = result["load.current"][1:]
    print(f"pack voltage {voltage.min():.1f}..{voltage.max():.1f} V, current {current.min():.0f}..{current.max():.0f} A "
          f"({current.max() / (pack.module.cell.nominal_capacity_As / 3600 * npar):.2f}C peak); SoC "
          f"{true_soc[0].mean():.4f} -> {true_soc[-1].mean():.4f}; BMS SoC error RMS {np.sqrt(np.mean(err ** 2)):.4f}, "
          f"max {np.abs(err).max():.4f}")
    hottest = max(result[f"module{m + 1}.maxCellTemperature"].max() for m in range(ms))
    print(f"hottest cell {hottest - 273.15:.2f} degC, coolant outlet {result['thermal.outletTemperature'][-1] - 273.15:.2f}"
          f" degC; wrote {args.out / 'pack.ssd'}, {args.out / 'results.parquet'} and {args.out / 'pack_cosim.png'}")


if __name__ == "__main__":
    import os
    import sys

    main()
    # the Bms FMU's pythonfmu3 binary stays loaded after its instance is freed and can abort in its
    # exit-time destructor after every result is written (docs/fmi.md, issue 16): end here
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
