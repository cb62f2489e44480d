"""Time of the whole reduction pipeline for one cell at 3 temperatures, beside the time of its
electrochemical simulations alone.

Runs :func:`fmutwin.reduction.pipeline.reduce` with its defaults (PyBaMM DFN, Chen2020, 15/25/35
degC, the nonlinear 2-RC ECM fitted to HPPC pulses to 3C, UDDS as tabulated and peaking at 3C
and constant-current discharges at 1C and 2.5C; held out: US06 and WLTC as tabulated and peaking
at 3C, constant-current discharges at 0.5C, 2C and 3C; the simulations spread over one process
per core), REPEATS times. Reported per run:
the pipeline's wall time, the wall time of its simulation phase, and the sum of the wall times of
the individual simulations (what they cost run one after another); the ECM fit and validation
times; the held-out errors at 25 degC. Results go to the "## Reduction pipeline" section of
benchmarks/RESULTS.md. Usage: ``python benchmarks/bench_reduction.py`` (a few minutes).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_cell_twin import _version, machine_info, update_results_section  # noqa: E402  (adds src/ if needed)

from fmutwin.reduction.pipeline import ReductionConfig, reduce  # noqa: E402

REPEATS = 3
TARGET_S = 120.0


def main() -> None:
    config = ReductionConfig()
    runs = []
    for _ in range(REPEATS):
        wall = time.perf_counter()
        result = reduce(config)
        total = time.perf_counter() - wall
        serial = sum(tr.wall_time_s for tr in result.traces)
        runs.append({"total": total, "simulation": result.timings_s["simulation"], "serial": serial,
                     "fit": result.timings_s["fit"], "validation": result.timings_s["validation"],
                     "steps": sum(tr.profile.current_A.size for tr in result.traces), "result": result})
        print(f"pipeline {total:.1f} s, simulation phase {runs[-1]['simulation']:.1f} s "
              f"(serial sum {serial:.1f} s), fit {runs[-1]['fit']:.1f} s", flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in ("total", "simulation", "serial", "fit", "validation")}
    last = runs[-1]["result"]
    rows = "\n".join(f"| {v.experiment} | {v.temperature_K:.2f} | {1e3 * v.rms_V:.2f} | {1e3 * v.max_V:.1f} |"
                     for v in last.validation)
    body = "\n".join(machine_info()) + f"""
- pybamm {_version('pybamm')}; workers: one process per CPU, each simulation (profile x temperature) a task, longest first
- what runs: `fmutwin.reduction.pipeline.reduce(ReductionConfig())`: PyBaMM {config.model} with {config.parameter_set}
  at {', '.join(f'{t:g}' for t in config.temperatures_K)} K; per temperature (fitted) HPPC pulses of 0.5-3C
  both ways at 9 SOC levels, UDDS from SOC 0.7 and peaking at 3C from 0.9, discharges at 1C and 2.5C to the
  cut-off, (held out) US06 and WLTC from SOC 0.8 and 0.4 and peaking at 3C from 0.9 and 0.5, discharges at
  0.5C, 2C and 3C; {runs[-1]['steps']:,} DFN steps in all; the {config.ecm} {config.n_rc}-RC fit; the ECM twin
  on every held-out experiment. Medians of {REPEATS} runs.

| phase | median time [s] |
|---|---|
| **whole pipeline** | **{med['total']:.1f}** |
| electrochemical simulations (wall time of the parallel phase) | {med['simulation']:.1f} |
| electrochemical simulations, sum of their individual wall times | {med['serial']:.1f} |
| ECM fit (3 temperatures) | {med['fit']:.1f} |
| validation (ECM twin on the held-out experiments) | {med['validation']:.1f} |

- target: whole pipeline under {TARGET_S:.0f} s: **{'met' if med['total'] < TARGET_S else 'not met'}**
  ({med['total']:.1f} s). The simulations are {100 * med['simulation'] / med['total']:.0f} % of it.

Held-out errors of the fitted ECM (last run; ECM twin vs DFN, same currents):

| held-out experiment | T [K] | RMS [mV] | max [mV] |
|---|---|---|---|
{rows}

Re-run: `python benchmarks/bench_reduction.py`.
"""
    update_results_section("## Reduction pipeline", body)
    print(body)


if __name__ == "__main__":
    main()
