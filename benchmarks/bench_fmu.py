"""Steps per second of the cell ECM Python FMUs (FMI 2.0 and 3.0) driven by a fmpy slave loop.

Builds ``CellECM_fmi2.fmu`` (pythonfmu) and ``CellECM_fmi3.fmu`` (pythonfmu3) into a temporary
folder, then times the US06 profile (600 steps of 1 s) through each of them with fmpy's
low-level classes (``FMU2Slave`` / ``FMU3Slave``): per step ``set current``, ``doStep``,
``get batteryVoltage, stateOfCharge``. The reference is the numpy twin called directly
(``CellECMTwin(default_cell_parameters()).step(current, 1.0)``) over the same profile; a
diagnostic row times the FMU's model layer (``CellECMModel.step``, FMI-named dicts, no FMI).

A round is one pass over the profile by a fresh instance of every case (created and initialised
before, terminated and freed after, untimed; pythonfmu instances left to the garbage collector
can crash the process), the cases in lockstep: each step is taken by every case in turn and each
call is timed on its own, so that the drifts in this machine's speed (+-30 % over seconds, seen
even with nothing else running) hit every case alike. One warm-up round (whose outputs are checked
against the twin's), then REPEATS rounds; the medians go to the "## Cell ECM FMU (Python, fmpy
slave loop)" section of benchmarks/RESULTS.md.

Usage: ``python benchmarks/bench_fmu.py`` (about a minute). Positive current = discharge. The script
ends with ``os._exit`` to step around a crash at process exit in pythonfmu's binary (see the end).
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_cell_twin import _version, machine_info, update_results_section  # noqa: E402  (adds src/ if needed)
from bench_common import FmpyInstances, cpu_ticks, run_then_exit, us06_steps  # noqa: E402


from fmutwin.fmi.build import build_python_fmu  # noqa: E402
from fmutwin.registry import twin  # noqa: E402
from fmutwin.params import default_cell_parameters  # noqa: E402
from fmutwin.twins import CellECMTwin  # noqa: E402
from fmutwin.twins.cell_ecm_interface import CellECMModel  # noqa: E402

SECTION = "## Cell ECM FMU (Python, fmpy slave loop)"
REPEATS = 15
DT = 1.0
AMBIENT_K = 298.15
RTOL = 1e-9  # sanity check: largest allowed relative difference from the twin's voltage and SOC
OUTPUT_NAMES = ("batteryVoltage", "stateOfCharge")

# A case: ``prepare()`` makes a fresh instance (untimed) and returns ``(step, close)``;
# ``step(current)`` advances it by one 1 s step and returns (voltage, soc) (timed);
# ``close()`` releases the instance (untimed).
Step = Callable[[float], Sequence[float]]
Prepare = Callable[[], tuple[Step, Callable[[], None]]]


# ---- the FMUs through fmpy's low-level API -------------------------------------------------------
class FmuCase:
    """One built FMU, extracted once; each ``prepare()`` instantiates and initialises a new instance."""

    def __init__(self, fmu: Path, unzip_dir: Path) -> None:
        self.instances = FmpyInstances(fmu, unzip_dir)
        self.version = self.instances.version
        self.vr_in = [self.instances.vrs["current"]]
        self.vr_out = [self.instances.vrs[n] for n in OUTPUT_NAMES]
        self.setup_s: list[float] = []  # instantiate + initialise, per instance

    def prepare(self) -> tuple[Step, Callable[[], None]]:
        t0 = time.perf_counter()
        fmu, set_real, get_real = self.instances.open(reals={"ambientTemperature": AMBIENT_K})
        self.setup_s.append(time.perf_counter() - t0)
        do_step = fmu.doStep
        vr_in, vr_out = self.vr_in, self.vr_out
        clock = [0.0]

        def step(i: float) -> list[float]:
            set_real(vr_in, [i])
            do_step(clock[0], DT)
            clock[0] += DT
            return get_real(vr_out)

        return step, lambda: self.instances.close(fmu)

    def close_all(self) -> None:
        self.instances.close_all()


def twin_case() -> Prepare:
    """The numpy twin called directly: ``CellECMTwin.step(current, 1.0)``, outputs read per step."""
    params = default_cell_parameters()

    def prepare() -> tuple[Step, Callable[[], None]]:
        twin_step = CellECMTwin(params).step

        def step(i: float) -> tuple[float, float]:
            y = twin_step(i, DT)
            return float(y["voltage_V"][0]), float(y["soc"][0])

        return step, lambda: None

    return prepare


def model_layer_case() -> Prepare:
    """What the FMU's slave calls every step, without FMI: ``CellECMModel.step`` with FMI-named dicts."""

    def prepare() -> tuple[Step, Callable[[], None]]:
        model = CellECMModel()
        params = {v.name: v.start if v.start is not None else {"Real": 0.0, "Integer": 0, "Boolean": False,
                                                                "String": ""}[v.type]
                  for v in model.variables if v.causality == "parameter"}
        inputs = {"current": 0.0, "ambientTemperature": AMBIENT_K, "heatFlow": 0.0}
        model.initialize(params, set(), inputs)
        clock = [0.0]

        def step(i: float) -> tuple[float, float]:
            inputs["current"] = i
            out = model.step(inputs, clock[0], DT)
            clock[0] += DT
            model.warnings()
            return out["batteryVoltage"], out["stateOfCharge"]

        return step, lambda: None

    return prepare


def run_round(cases: list[Prepare], currents: list[float], traces: list[list] | None = None) -> list[float]:
    """One pass over the profile by a fresh instance of every case, in lockstep: each step is taken
    by every case in turn, each call timed on its own. Returns each case's summed time [s] (set-up
    and release untimed); with ``traces``, appends each case's (voltage, soc) per step to its list."""
    instances = []
    try:
        for prepare in cases:
            instances.append(prepare())
        steps = [step for step, _ in instances]
        totals = [0.0] * len(steps)
        clock = time.perf_counter
        for i in currents:
            for k, step in enumerate(steps):
                t0 = clock()
                y = step(i)
                totals[k] += clock() - t0
                if traces is not None:
                    traces[k].append(y)
        return totals
    finally:
        for _, close in instances:
            close()


def sanity_check(labels: list[str], traces: list[np.ndarray]) -> float:
    """Every case's (voltage, soc) trace equals the twin's (the first) within RTOL; the largest
    relative difference."""
    ref = traces[0]
    for label, trace in zip(labels, traces):
        assert trace.shape == ref.shape and np.all(np.isfinite(trace)), f"{label}: shape {trace.shape} or non-finite"
    max_rel = max(float(np.max(np.abs(t - ref) / np.abs(ref))) for t in traces[1:])
    assert max_rel <= RTOL, f"an FMU or the model layer departs from the twin by {max_rel:.3g} (relative)"
    return max_rel


def main() -> None:
    t_start = time.perf_counter()
    cpu_start, ticks_start = time.process_time(), cpu_ticks()
    currents = us06_steps(10, DT)
    n_steps = len(currents)

    with tempfile.TemporaryDirectory(prefix="fmutwin_bench_fmu_") as tmp:
        tmp_dir = Path(tmp)
        t0 = time.perf_counter()
        fmus = {v: build_python_fmu(twin("cell_ecm"), v, tmp_dir / "fmus", runner="in-process") for v in (2, 3)}
        build_s = time.perf_counter() - t0
        print(f"built {', '.join(p.name for p in fmus.values())} in {build_s:.1f} s", flush=True)
        fmu_cases = {v: FmuCase(p, tmp_dir / f"unzip{v}") for v, p in fmus.items()}
        cases: list[tuple[str, Prepare]] = [
            ("numpy twin called directly (`CellECMTwin.step`)", twin_case()),
            ("FMU model layer without FMI (`CellECMModel.step`, diagnostic)", model_layer_case()),
            ("FMI 2.0 FMU (pythonfmu), fmpy `FMU2Slave` loop", fmu_cases[2].prepare),
            ("FMI 3.0 FMU (pythonfmu3), fmpy `FMU3Slave` loop", fmu_cases[3].prepare),
        ]
        prepares = [prepare for _, prepare in cases]
        try:
            # warm-up round, recording the outputs for the sanity check
            records: list[list] = [[] for _ in cases]
            run_round(prepares, currents, records)
            traces = [np.array(r, dtype=float) for r in records]
            max_rel = sanity_check([label for label, _ in cases], traces)
            times: list[list[float]] = [[] for _ in cases]
            for r in range(REPEATS):
                for k, t in enumerate(run_round(prepares, currents)):
                    times[k].append(t)
                print(f"round {r + 1}/{REPEATS}: " + ", ".join(f"{t[-1] / n_steps * 1e6:.0f}" for t in times)
                      + " µs/step", flush=True)
        finally:
            for case in fmu_cases.values():
                case.close_all()
            gc.collect()  # a reference-count fault in an FMU run time shows up here, not at exit
    total = time.perf_counter() - t_start
    ticks_end = cpu_ticks()
    contention = ""
    if ticks_start is not None and ticks_end is not None:
        hz = os.sysconf("SC_CLK_TCK")
        others = (ticks_end[0] - ticks_start[0]) / hz - (time.process_time() - cpu_start)
        steal = (ticks_end[1] - ticks_start[1]) / hz
        contention = (f"- other processes used about {max(others, 0.0):.0f} CPU-s during the {total:.0f} s run "
                      f"(`/proc/stat` minus this process), steal time {steal:.1f} s.")

    twin_median = statistics.median(times[0])
    twin_best = min(times[0])
    rows = []  # label, median, time vs twin (median of the ratios within one round), fastest, spread
    for (label, _), ts in zip(cases, times):
        med = statistics.median(ts)
        ratio = statistics.median(t / t_twin for t, t_twin in zip(ts, times[0]))
        spread = f"{min(ts) / med * 100 - 100:+.0f}/{max(ts) / med * 100 - 100:+.0f}%"
        rows.append((label, med, ratio, min(ts), spread))
        print(f"{label:65s} {med / n_steps * 1e6:7.1f} µs/step ({spread}), {n_steps / med:6.0f} steps/s, "
              f"{ratio:5.2f}x the twin; fastest round {min(ts) / n_steps * 1e6:7.1f} µs/step "
              f"({min(ts) / twin_best:.2f}x the twin's fastest)", flush=True)
    setup = {v: statistics.median(c.setup_s) for v, c in fmu_cases.items()}
    print(f"instantiate + initialise (median of {REPEATS + 1}): FMI 2.0 {setup[2] * 1e3:.1f} ms, "
          f"FMI 3.0 {setup[3] * 1e3:.1f} ms; max relative difference from the twin {max_rel:.1e}")

    table = ["| case | median time per step [µs] | steps/s (median) | time vs twin | "
             "overhead per step vs twin, medians [µs] | fastest round, time per step [µs] | "
             "overhead per step vs twin, fastest rounds [µs] | fastest/slowest round vs median |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    per_step = 1e6 / n_steps
    for k, (label, med, ratio, best, spread) in enumerate(rows):
        factor = "1" if k == 0 else f"{ratio:.2f}x"
        over = "–" if k == 0 else f"{(med - twin_median) * per_step:+,.1f}"
        over_best = "–" if k == 0 else f"{(best - twin_best) * per_step:+,.1f}"
        table.append(f"| {label} | {med * per_step:,.1f} | {n_steps / med:,.0f} | {factor} | {over} | "
                     f"{best * per_step:,.1f} | {over_best} | {spread} |")
    v_min, v_max = float(traces[0][:, 0].min()), float(traces[0][:, 0].max())

    body = "\n".join([
        *machine_info(),
        f"- fmpy {_version('fmpy')}, pythonfmu {_version('pythonfmu')}, pythonfmu3 {_version('pythonfmu3')}",
        "",
        f"US06 profile (`fmutwin.data.drive_cycle('US06', scale=10)`, -42..81 A on the 100 Ah default cell), "
        f"{n_steps} steps of 1 s (`current[k]` held over `[t_k, t_k+1]`), ambient 298.15 K, default parameters. "
        "The FMUs are built by `fmutwin.fmi.build.build_python_fmu` into a temporary folder, extracted once, "
        "and driven in this process by fmpy's low-level classes: per step `setReal`/`setFloat64` of `current`, "
        "`doStep`, `getReal`/`getFloat64` of `batteryVoltage` and `stateOfCharge`. The twin's loop is "
        "`y = CellECMTwin.step(current, 1.0)` and reads `y['voltage_V'][0]`, `y['soc'][0]`. A round is one "
        "pass over the profile by a fresh instance of every case (instantiated and initialised before, "
        "terminated and freed after, untimed), the cases in lockstep: each step is taken by every case in "
        "turn, each call timed on its own (`time.perf_counter`), so that drifts in the machine's speed hit "
        "every case alike; a case's time for a round is the sum of its 600 calls. Each figure is the median "
        f"of {REPEATS} rounds after one warm-up round; \"time vs twin\" is the median over the rounds of "
        "(this case's time / the twin's time in the same round); the overheads are differences of the "
        "medians and of the fastest rounds.",
        "",
        *table,
        "",
        "- FMU model layer: `fmutwin.twins.cell_ecm_interface.CellECMModel.step`, which the FMU's slave calls "
        "every step (FMI-named input dict, current-limit check, twin step, output dict of floats), timed "
        "without FMI to split the FMU's overhead into the model layer and the FMI path "
        "(fmpy ctypes call, pythonfmu/pythonfmu3 C run time re-entering Python, the slave's per-step input "
        "and output checks).",
        f"- instantiate + initialise one instance (median of {REPEATS + 1}, not in the table): "
        f"FMI 2.0 {setup[2] * 1e3:.0f} ms, FMI 3.0 {setup[3] * 1e3:.0f} ms; building both FMUs took {build_s:.1f} s.",
        "- sanity check: voltage and SOC of both FMUs and of the model layer equal the twin's "
        + ("bit for bit" if max_rel == 0 else f"within {max_rel:.1e} (relative)")
        + f" at every step (voltage {v_min:.3f}..{v_max:.3f} V).",
        *([contention] if contention else []),
        f"- whole run took {total:.0f} s.",
        "",
        "Re-run: `python benchmarks/bench_fmu.py` (needs fmpy, pythonfmu and pythonfmu3; with fmutwin installed, "
        "or from the project root, it falls back to `src/`).",
    ])
    update_results_section(SECTION, body)
    print(f"wrote section '{SECTION}' of {HERE / 'RESULTS.md'} ({total:.0f} s)")


if __name__ == "__main__":
    run_then_exit(main)
