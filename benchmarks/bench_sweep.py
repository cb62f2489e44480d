"""Scenario sweep throughput: 32 flagship-pack scenarios (``fmutwin.pack_sweep``) with 1 and 2
local worker processes, and on a Dask LocalCluster of 2 workers, in one run.

The 32 scenarios: WLTC x ambient 10 / 35 degC x cooling off / high x variation seeds 0-7, each the
whole 1800 s cycle (Gauss-Seidel, 1 s steps: 11 native FMUs). Reported: scenarios per minute
(wall time of the whole sweep, worker start-up included), the scaling from 1 to 2 workers, and the
per-scenario medians of its parts: setup (pack parameters and variation, system, FMU instantiation,
extraction on a worker's first scenario, initialisation), simulation loop, results (row
metrics), against the wall time per scenario. The FMUs are built before the timing.

Results go to the "## Scenario sweeps" section of benchmarks/RESULTS.md.
Usage: ``python benchmarks/bench_sweep.py`` (about 3 minutes).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_cell_twin import machine_info, update_results_section  # noqa: E402  (adds src/ if needed)

STOP_S = 1800.0


def _sweep(scenarios, folder, fmus, workers=1, scheduler=None):
    from fmutwin import pack_sweep
    from fmutwin.cosim.sweep import read_table

    sweep = pack_sweep.SweepFile(name="bench", stop_s=STOP_S)
    t0 = time.perf_counter()
    pack_sweep.run(sweep, scenarios, folder, fmus, scheduler=scheduler, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    rows = read_table(folder / "rows").to_pylist()
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows if r["status"] != "ok"]
    return wall, rows


def main() -> None:
    from distributed import Client, LocalCluster

    from fmutwin import pack_sweep
    from fmutwin.pack_cosim import build_pack_fmus

    grid = {"ambient_C": [10.0, 35.0], "cooling": ["off", "high"], "seed": list(range(8))}
    scenarios = pack_sweep.scenarios_of(pack_sweep.SweepFile(grid=grid))
    assert len(scenarios) == 32
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fmus = tmp / "fmus"
        build_pack_fmus(fmus)
        results = {}
        for workers in (1, 2):
            results[f"local pool, {workers} worker{'s' if workers > 1 else ''}"] = \
                _sweep(scenarios, tmp / f"local{workers}", fmus, workers=workers)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            results["Dask LocalCluster, 2 workers"] = _sweep(scenarios, tmp / "dask", fmus, scheduler=client)
    one = results["local pool, 1 worker"][0]
    lines = ["| engine | wall [s] | scenarios / min | scaling vs 1 worker | per scenario: wall / setup / "
             "simulation / results [s] (medians) |", "|---|---|---|---|---|"]
    for name, (wall, rows) in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in ("wall_s", "setup_s", "simulation_s", "results_s")}
        lines.append(f"| {name} | {wall:.1f} | {32 / wall * 60:.1f} | {one / wall:.2f}x | {med['wall_s']:.2f} / "
                     f"{med['setup_s']:.2f} / {med['simulation_s']:.2f} / {med['results_s']:.3f} |")
    first = [r["setup_s"] for r in results["local pool, 1 worker"][1]]
    body = "\n".join([
        f"32 flagship-pack scenarios ({', '.join(f'{k}: {v}' for k, v in grid.items())}), {STOP_S:.0f} s each, "
        "Gauss-Seidel at 1 s, 11 native FMUs; wall time of the whole sweep (worker start-up and result files "
        "included), FMUs built before. `python benchmarks/bench_sweep.py`.",
        "",
        *machine_info(),
        "",
        *lines,
        "",
        f"Setup of a worker's first scenario (FMU extraction, imports) {max(first):.2f} s, later ones "
        f"{statistics.median(first):.2f} s (median). The gap between the wall per scenario and the sweep's wall / 32 "
        "x workers is the pool's start-up (spawned processes import fmutwin, numpy, CasADi) and scheduling. "
        "On Dask the scheduler, two nannies and the client share the machine's two cores with the two workers, "
        "which shows in its per-scenario simulation time.",
    ])
    print(body)
    update_results_section("## Scenario sweeps", body)


if __name__ == "__main__":
    main()
