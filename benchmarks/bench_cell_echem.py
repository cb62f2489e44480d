"""Time per step of the electrochemical (PyBaMM) cell twin, stepped and as an FMI 2.0 FMU, against
PyBaMM solving the whole cycle at once; memory over 10,000 steps.

US06 at scale 1.0 (`fmutwin.data.drive_cycle('US06', scale=1.0)`, -4.2..8.1 A on the 5 Ah Chen2020
cell), initial SOC 0.7, `current[k]` held over `[t_k, t_k+1]`, 600 steps of 1 s. Cases, for SPMe
and DFN:

* twin: `CellEchemTwin(model, 'Chen2020', initial_soc=0.7).step(current, 1.0)` per step, state
  reset to the initial one (`set_state`, untimed) before each run; ordinary steps take the twin's
  direct IDAKLU path (`cell_echem._DirectIdakluStep`);
* twin through PyBaMM's step: the same with the direct path switched off (`_direct_verified =
  False`), every step through `IDAKLUSolver.step` as before the direct path existed;
* FMU: `CellEchem_fmi2.fmu` built by `fmutwin.fmi.build.build_python_fmu`, driven in this
  process by fmpy's `FMU2Slave` (per step `setReal current`, `doStep`, `getReal batteryVoltage,
  stateOfCharge`), a fresh instance per run (instantiate and initialise, which builds the PyBaMM
  model, untimed; terminated and freed after the run);
* PyBaMM whole cycle: one `IDAKLUSolver.solve` of the same model and parameters over [0, 600] s
  with the same piecewise-constant current, built once (untimed), same tolerances and output
  variables as the twin. The current is `Interpolant(t_k, I_k, floor(t))` and `t_eval` holds
  every `t_k` and the float just below it, so IDAS stops at each current change and restarts at
  `t_k` with the new current (what PyBaMM does itself for a `t >= t_k` Heaviside).

One warm-up run per case, then REPEATS rounds per model with that model's cases interleaved; "vs
PyBaMM whole cycle" is the median over the rounds of (case time / whole-cycle solve time in the same
round), and the ratio of the fastest runs (the least disturbed by other processes) is shown too. Memory:
the SPMe twin steps 10,000 times through US06 and US06 with the sign reversed, alternately (so the
SOC swings between 0.70 and 0.67 and never reaches a cut-off); VmRSS from /proc/self/status
(after `gc.collect()`) at steps 1,000 and 10,000 (and every 1,000 in between).

Where the time goes: after the timed rounds, one more run of the direct twin with IDAKLU's C++
`solve` timed separately (IDAS, with its initial-condition calculation and the output-variable
evaluation), and `integration_time` of the whole-cycle solves.

Results go to the "## Electrochemical cell twin (PyBaMM)" section of benchmarks/RESULTS.md.
Usage: ``python benchmarks/bench_cell_echem.py`` (about 3 to 4 minutes). Ends with ``os._exit``
(pythonfmu 0.7.0's binary can crash at process exit; see benchmarks/bench_fmu.py).
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_cell_twin import _version, machine_info, update_results_section  # noqa: E402  (adds src/ if needed)
from bench_common import FmpyInstances, cpu_ticks, run_then_exit  # noqa: E402

from fmutwin.data import drive_cycle  # noqa: E402
from fmutwin.twins.cell_echem import PYBAMM_OUTPUTS, CellEchemTwin  # noqa: E402

SECTION = "## Electrochemical cell twin (PyBaMM)"
MODELS = ("SPMe", "DFN")
PARAMETER_SET = "Chen2020"
INITIAL_SOC = 0.7
DT = 1.0
REPEATS = {"SPMe": 9, "DFN": 5}  # timed rounds per model (a DFN round takes about 3x as long)
MEMORY_STEPS = 10_000
MEMORY_EVERY = 1_000
RTOL, ATOL = 1e-6, 1e-8  # CellEchemTwin's defaults, used for the whole-cycle solve too
TIME_BUDGET_S = 300.0  # no new round (after 3) once the run is this long; the memory run follows
OUTPUT_NAMES = ("batteryVoltage", "stateOfCharge")
KINDS = ("whole", "twin", "fmu", "pybamm_step")  # cases per model, in table and round order


def _rss_mib() -> float:
    """Resident set size of this process [MiB] (VmRSS, or ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class TwinCase:
    """``CellEchemTwin.step`` in a loop; also sums the time spent in PyBaMM's ``solver.step``."""

    def __init__(self, model: str, currents: list[float], direct: bool = True) -> None:
        t0 = time.perf_counter()
        self.twin = CellEchemTwin(model=model, parameter_set=PARAMETER_SET, initial_soc=INITIAL_SOC)
        self.build_s = time.perf_counter() - t0
        self.direct = direct
        if not direct:
            self.twin._direct_verified = False  # every step through IDAKLUSolver.step
        self.start = self.twin.get_state()
        self.currents = currents
        self.solver_step_s: list[float] = []

    def run(self, record: list | None = None) -> float:
        twin = self.twin
        twin.set_state(self.start)
        step = twin.step
        inner = 0.0
        t0 = time.perf_counter()
        for i in self.currents:
            y = step(i, DT)
            inner += twin.last_step_wall_time_s
            v, soc = y["voltage_V"][0], y["soc"][0]
            if record is not None:
                record.append([float(v), float(soc)])
        wall = time.perf_counter() - t0
        self.solver_step_s.append(inner)
        assert twin.direct_stepping == self.direct, "the twin's direct IDAKLU path is not in the expected use"
        return wall

    def run_timing_idas(self) -> tuple[float, float]:
        """One more (untimed-table) run: (wall time, time inside IDAKLU's C++ ``solve``)."""
        direct = self.twin._direct
        real = direct.solver
        spent = [0.0]

        class Timed:
            def solve(self, *args, **kwargs):
                t0 = time.perf_counter()
                try:
                    return real.solve(*args, **kwargs)
                finally:
                    spent[0] += time.perf_counter() - t0

        direct.solver = Timed()
        try:
            wall = self.run()
        finally:
            direct.solver = real
            self.solver_step_s.pop()
        return wall, spent[0]


class WholeCycleCase:
    """PyBaMM's own solve of the whole cycle (one ``IDAKLUSolver.solve``), same current steps."""

    def __init__(self, model: str, time_s: np.ndarray, currents: list[float], rtol: float = RTOL,
                 atol: float = ATOL) -> None:
        import pybamm

        t0 = time.perf_counter()
        n = len(currents)
        t_grid = np.asarray(time_s[: n + 1], dtype=float)
        assert np.all(np.diff(t_grid) == DT) and t_grid[0] == 0.0
        # I(t) = currents[floor(t)]: on the uniform grid the interpolant returns the node values exactly
        values = np.append(currents, currents[-1])
        current = pybamm.Interpolant(t_grid, values, pybamm.Floor(pybamm.t), interpolator="linear")
        options = {"calculate heat source for isothermal models": "true"}  # as the twin's isothermal model
        pb_model = getattr(pybamm.lithium_ion, model)(options=options)
        params = pybamm.ParameterValues(PARAMETER_SET)
        params["Current function [A]"] = current
        self.nominal_Ah = float(params["Nominal cell capacity [A.h]"])
        self.solver = pybamm.IDAKLUSolver(rtol=rtol, atol=atol, output_variables=list(PYBAMM_OUTPUTS.values()))
        sim = pybamm.Simulation(pb_model, parameter_values=params, solver=self.solver)
        sim.build(initial_soc=INITIAL_SOC)
        self.model = sim.built_model
        below = np.nextafter(t_grid[1:-1], -np.inf)  # end of each constant-current piece
        self.t_eval = np.union1d(t_grid, below)
        # outputs at the end of each step (the left limit, before the next current applies)
        self.t_interp = np.concatenate([[0.0], below, [t_grid[-1]]])
        self.build_s = time.perf_counter() - t0
        self.integration_s: list[float] = []
        self.first_solve_s = None

    def run(self, record: list | None = None) -> float:
        t0 = time.perf_counter()
        sol = self.solver.solve(self.model, self.t_eval, t_interp=self.t_interp)
        wall = time.perf_counter() - t0
        if self.first_solve_s is None:
            self.first_solve_s = wall
        else:
            self.integration_s.append(float(getattr(sol.integration_time, "value", sol.integration_time)))
        if sol.termination != "final time":
            raise RuntimeError(f"whole-cycle solve ended with {sol.termination!r}")
        if record is not None:
            v = sol["Voltage [V]"](t=self.t_interp[1:])
            q = sol["Discharge capacity [A.h]"](t=self.t_interp[1:])
            # SOC as the twin defines it: initial SOC - discharged capacity / nominal capacity
            record.extend([float(a), INITIAL_SOC - float(b) / self.nominal_Ah] for a, b in zip(v, q))
        return wall


class FmuCase:
    """The FMI 2.0 FMU through fmpy's ``FMU2Slave``; a fresh instance per run."""

    def __init__(self, fmu: Path, model: str, currents: list[float], unzip_dir: Path) -> None:
        self.instances = FmpyInstances(fmu, unzip_dir)
        assert self.instances.version == 2
        self.vrs = self.instances.vrs
        self.model = model
        self.currents = currents
        self.setup_s: list[float] = []

    def run(self, record: list | None = None) -> float:
        t0 = time.perf_counter()
        fmu, set_real, get_real = self.instances.open(reals={"initialSoc": INITIAL_SOC},
                                                      strings={"model": self.model, "parameterSet": PARAMETER_SET})
        self.setup_s.append(time.perf_counter() - t0)
        try:
            vr_in, vr_out = [self.vrs["current"]], [self.vrs[n] for n in OUTPUT_NAMES]
            do_step = fmu.doStep
            t = 0.0
            t0 = time.perf_counter()
            for i in self.currents:
                set_real(vr_in, [i])
                do_step(t, DT)
                t += DT
                y = get_real(vr_out)
                if record is not None:
                    record.append(y)
            return time.perf_counter() - t0
        finally:
            self.instances.close(fmu)

    def close_all(self) -> None:
        self.instances.close_all()


# ---- memory ------------------------------------------------------------------------------------
def memory_run(currents: np.ndarray) -> tuple[list[tuple[int, float]], float, tuple[float, float]]:
    """RSS [MiB] every MEMORY_EVERY steps of a fresh SPMe twin over ``currents``; wall time; SOC range."""
    twin = CellEchemTwin(model="SPMe", parameter_set=PARAMETER_SET, initial_soc=INITIAL_SOC)
    points = []
    soc_min, soc_max = INITIAL_SOC, INITIAL_SOC
    t0 = time.perf_counter()
    for k, i in enumerate(currents, start=1):
        soc = float(twin.step(float(i), DT)["soc"][0])
        soc_min, soc_max = min(soc_min, soc), max(soc_max, soc)
        if k % MEMORY_EVERY == 0:
            gc.collect()
            points.append((k, _rss_mib()))
    return points, time.perf_counter() - t0, (soc_min, soc_max)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    defaults = ", ".join(f"{m} {n}" for m, n in REPEATS.items())
    parser.add_argument("--repeats", type=int, default=None, help=f"timed rounds for every model (default {defaults})")
    parser.add_argument("--dry-run", action="store_true", help="print the section, do not write RESULTS.md")
    args = parser.parse_args(argv)
    repeats = {m: args.repeats for m in MODELS} if args.repeats else dict(REPEATS)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    t_start = time.perf_counter()
    cpu_start, ticks_start = time.process_time(), cpu_ticks()
    time_s, current = drive_cycle("US06", scale=1.0)
    currents = [float(i) for i in current[:-1]]  # current[k] held from time_s[k] to time_s[k+1]
    n_steps = len(currents)

    from fmutwin.fmi.build import build_python_fmu
    from fmutwin.registry import twin

    with tempfile.TemporaryDirectory(prefix="fmutwin_bench_echem_") as tmp:
        tmp_dir = Path(tmp)
        t0 = time.perf_counter()
        fmu_path = build_python_fmu(twin("cell_echem"), 2, tmp_dir / "fmus", runner="in-process")
        fmu_build_s = time.perf_counter() - t0
        print(f"built {fmu_path.name} in {fmu_build_s:.1f} s", flush=True)

        cases: dict[tuple[str, str], Any] = {}
        for model in MODELS:
            cases[(model, "whole")] = WholeCycleCase(model, time_s, currents)
            cases[(model, "twin")] = TwinCase(model, currents)
            cases[(model, "pybamm_step")] = TwinCase(model, currents, direct=False)
            cases[(model, "fmu")] = FmuCase(fmu_path, model, currents, tmp_dir / f"unzip_{model}")
        fmu_cases = [c for (m, kind), c in cases.items() if kind == "fmu"]
        times: dict[tuple[str, str], list[float]] = {key: [] for key in cases}
        traces: dict[tuple[str, str], np.ndarray] = {}
        try:
            for key, case in cases.items():  # warm-up run per case, recording outputs for the sanity check
                record: list = []
                case.run(record)
                traces[key] = np.array(record, dtype=float)
                print(f"warm-up {key[0]:4s} {key[1]:5s} done ({time.perf_counter() - t_start:.0f} s)", flush=True)
            for model in MODELS:  # the cases of one model interleaved, so that a load change hits them alike
                for r in range(repeats[model]):
                    if r >= 3 and time.perf_counter() - t_start > TIME_BUDGET_S:
                        print(f"time budget reached: {model} stops after {r} rounds", flush=True)
                        break
                    for kind in KINDS:
                        times[(model, kind)].append(cases[(model, kind)].run())
                    print(f"{model} round {r + 1}/{repeats[model]} [ms/step]: "
                          + ", ".join(f"{k} {times[(model, k)][-1] / n_steps * 1e3:.2f}"
                                      for k in KINDS)
                          + f" ({time.perf_counter() - t_start:.0f} s)", flush=True)
            idas = {model: cases[(model, "twin")].run_timing_idas() for model in MODELS}
        finally:
            for case in fmu_cases:
                case.close_all()
            gc.collect()  # a reference-count fault in an FMU run time shows up here, not at exit
    timing_end = time.perf_counter()
    ticks_end = cpu_ticks()

    # sanity: the FMU equals the twin; PyBaMM's whole-cycle solve agrees with the twin
    checks = {}
    for model in MODELS:
        ref = traces[(model, "twin")]
        for kind in ("fmu", "whole", "pybamm_step"):
            got = traces[(model, kind)]
            assert got.shape == ref.shape and np.all(np.isfinite(got)), (model, kind, got.shape)
            checks[(model, kind)] = (float(np.max(np.abs(got[:, 0] - ref[:, 0]))),
                                     float(np.max(np.abs(got[:, 1] - ref[:, 1]))))
        assert checks[(model, "fmu")][0] <= 1e-9 * np.max(np.abs(ref[:, 0])), checks[(model, "fmu")]
        assert checks[(model, "pybamm_step")] == (0.0, 0.0), checks[(model, "pybamm_step")]  # bit-identical
        assert checks[(model, "whole")][0] < 1e-4, f"whole-cycle solve departs from the twin: {checks}"

    # memory
    print(f"memory run: {MEMORY_STEPS} SPMe steps ...", flush=True)
    cycle = np.concatenate([current[:-1], -current[:-1]])
    mem_currents = np.resize(cycle, MEMORY_STEPS)
    rss_points, mem_wall, soc_range = memory_run(mem_currents)
    rss = dict(rss_points)
    rss_1k, rss_10k = rss[1_000], rss[MEMORY_STEPS]
    growth = (rss_10k - rss_1k) / rss_1k * 100
    print("RSS [MiB] at " + ", ".join(f"{k}: {v:.1f}" for k, v in rss_points) + f"; growth {growth:+.2f} %")
    total = time.perf_counter() - t_start

    contention = ""
    if ticks_start is not None and ticks_end is not None:
        hz = os.sysconf("SC_CLK_TCK")
        others = (ticks_end[0] - ticks_start[0]) / hz - (time.process_time() - cpu_start)
        steal = (ticks_end[1] - ticks_start[1]) / hz
        contention = (f"- other processes used about {max(others, 0.0):.0f} CPU-s during the "
                      f"{timing_end - t_start:.0f} s of timing (`/proc/stat` minus this process; "
                      f"{os.cpu_count()} cores), steal time {steal:.1f} s.")

    # table
    labels = {"twin": "twin stepped (`CellEchemTwin.step`)",
              "fmu": "FMI 2.0 FMU stepped (pythonfmu, fmpy `FMU2Slave`)",
              "whole": "PyBaMM whole cycle (one `IDAKLUSolver.solve`)",
              "pybamm_step": "twin stepped through PyBaMM's `IDAKLUSolver.step` (direct path off)"}
    table = ["| model | case | runs | median per step [ms] | median whole US06 [s] | fastest whole US06 [s] | "
             "vs PyBaMM whole cycle: median of per-round ratios | vs PyBaMM whole cycle: fastest runs | "
             "within 1.5x? |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    summary = {}  # (model, kind) -> (median time, median per-round ratio, fastest-run ratio)
    for model in MODELS:
        whole = times[(model, "whole")]
        for kind in KINDS:
            ts = times[(model, kind)]
            med = statistics.median(ts)
            ratio = statistics.median(t / w for t, w in zip(ts, whole))
            best_ratio = min(ts) / min(whole)
            summary[(model, kind)] = (med, ratio, best_ratio)
            if kind == "whole":
                cells = "1 | 1 | –"
            else:
                verdict = ("yes" if max(ratio, best_ratio) <= 1.5 else
                           "**no**" if min(ratio, best_ratio) > 1.5 else "borderline")
                cells = f"{ratio:.2f}x | {best_ratio:.2f}x | {verdict}"
            table.append(f"| {model} | {labels[kind]} | {len(ts)} | {med / n_steps * 1e3:.2f} | {med:.2f} | "
                         f"{min(ts):.2f} | {cells} |")
        for line in table[-len(KINDS):]:
            print(line)

    breakdown = []
    for model in MODELS:
        tw = cases[(model, "twin")]
        pb = cases[(model, "pybamm_step")]
        whole = cases[(model, "whole")]
        fmu = cases[(model, "fmu")]
        ms = 1e3 / n_steps
        inner = statistics.median(tw.solver_step_s[1:])  # [0] is the warm-up run
        inner_pb = statistics.median(pb.solver_step_s[1:])
        twin_med, fmu_med, whole_med, pb_med = (summary[(model, k)][0] for k in ("twin", "fmu", "whole", "pybamm_step"))
        twin_best, fmu_best = min(times[(model, "twin")]), min(times[(model, "fmu")])
        integ = statistics.median(whole.integration_s)
        idas_wall, idas_cpp = idas[model]
        breakdown.append(
            f"- {model}, where the time goes (per step; medians unless stated): PyBaMM whole cycle "
            f"{whole_med * ms:.2f} ms ({integ * ms:.2f} ms of it in IDAS, `integration_time`). Direct twin: "
            f"{twin_med * ms:.2f} ms, of which the solver call (ydot0 by the model's casadi RHS + IDAKLU's C++ "
            f"`solve`) {inner * ms:.2f} ms and the twin's own Python {(twin_med - inner) * ms:.2f} ms; in one "
            f"extra run of {idas_wall * ms:.2f} ms/step, {idas_cpp * ms:.2f} ms were inside the C++ `solve` (IDAS "
            f"with its initial-condition calculation and the output evaluation) and "
            f"{(idas_wall - idas_cpp) * ms:.2f} ms outside it. Through PyBaMM's `IDAKLUSolver.step` (the "
            f"path before): {pb_med * ms:.2f} ms, of which `IDAKLUSolver.step` {inner_pb * ms:.2f} ms, i.e. "
            f"about {(inner_pb - inner) * ms:.2f} ms of PyBaMM Python bookkeeping per step (`Solution`, "
            f"processed output variables, `last_state`, input and event checks) on top of the same C++ solve, "
            f"and {(pb_med - inner_pb) * ms:.2f} ms in the twin. The FMU "
            f"{(fmu_med - twin_med) * ms:+.2f} ms vs the direct twin (fastest runs: "
            f"{(fmu_best - twin_best) * ms:+.2f} ms). Not in the table: first whole-cycle solve, with the "
            f"solver set-up, {whole.first_solve_s:.2f} s; building the PyBaMM simulation {whole.build_s:.1f} s, "
            f"the twin {tw.build_s:.1f} s; instantiate + initialise one FMU instance "
            f"{statistics.median(fmu.setup_s):.1f} s (median).")

    target_parts = []
    for model in MODELS:
        _, ratio, best_ratio = summary[(model, "fmu")]
        met = "met" if max(ratio, best_ratio) <= 1.5 else "not met" if min(ratio, best_ratio) > 1.5 else "borderline"
        target_parts.append(f"{model} {ratio:.2f}x (fastest runs {best_ratio:.2f}x): {met}")
    target = "- **Target \"stepped FMU within 1.5x of PyBaMM's own solve\"**: " + "; ".join(target_parts) + "."
    mem_ok = abs(growth) <= 5.0
    memory = (f"- **Memory** (target: flat within 5 %): SPMe twin, {MEMORY_STEPS:,} steps of 1 s, US06 and "
              f"US06 reversed alternately (SOC {soc_range[0]:.3f}..{soc_range[1]:.3f}, no cut-off), "
              f"{mem_wall / MEMORY_STEPS * 1e3:.2f} ms per step: VmRSS {rss_1k:.1f} MiB at step 1,000, "
              f"{rss_10k:.1f} MiB at step {MEMORY_STEPS:,}: {growth:+.2f} % "
              f"({(rss_10k - rss_1k) * 1024 / (MEMORY_STEPS - 1_000):+.2f} KiB per step; "
              f"{'met' if mem_ok else 'not met'}). RSS in this process, which also holds both PyBaMM models, "
              "the whole-cycle solutions and the freed FMU instances' libraries; every 1,000 steps [MiB]: "
              + ", ".join(f"{v:.1f}" for _, v in rss_points) + ".")
    v_ranges = {m: (traces[(m, 'twin')][:, 0].min(), traces[(m, 'twin')][:, 0].max()) for m in MODELS}
    sanity = ("- sanity check (warm-up runs): the FMU's voltage and SOC equal the twin's "
              + ", ".join(f"{m} within {checks[(m, 'fmu')][0]:.1e} V" for m in MODELS)
              + "; PyBaMM's whole-cycle solve agrees with the stepped twin to "
              + ", ".join(f"{m} {checks[(m, 'whole')][0] * 1e6:.2f} µV in voltage, "
                          f"{checks[(m, 'whole')][1]:.1e} in SOC" for m in MODELS)
              + " (max over the 600 step ends; voltage "
              + ", ".join(f"{m} {lo:.3f}..{hi:.3f} V" for m, (lo, hi) in v_ranges.items()) + "); the twin "
              "through PyBaMM's `IDAKLUSolver.step` equals the direct twin bit for bit (asserted).")

    rounds = ", ".join(f"{m} {len(times[(m, 'whole')])}" for m in MODELS)
    body = "\n".join([
        *machine_info(),
        f"- pybamm {_version('pybamm')}, pybammsolvers {_version('pybammsolvers')}, casadi {_version('casadi')}, "
        f"fmpy {_version('fmpy')}, pythonfmu {_version('pythonfmu')}",
        "",
        f"US06 (`fmutwin.data.drive_cycle('US06', scale=1.0)`, {min(currents):.1f}..{max(currents):.1f} A) on "
        f"PyBaMM's {PARAMETER_SET} cell (5 Ah), isothermal 298.15 K, initial SOC {INITIAL_SOC}, {n_steps} steps "
        "of 1 s (`current[k]` held over `[t_k, t_k+1]`), IDAKLU with rtol 1e-6, atol 1e-8 and the twin's 9 "
        "output variables in every case. Twin: `CellEchemTwin(model, 'Chen2020', initial_soc=0.7).step(current, "
        "1.0)`, state reset before each run (untimed); ordinary steps call IDAKLU's C++ solver directly "
        "(`cell_echem._DirectIdakluStep`, the same arrays as PyBaMM's step, checked bit for bit). Twin through "
        "PyBaMM's step: the same twin with that direct path off, every step through `IDAKLUSolver.step(..., "
        "save=False)` (the twin before the direct path). FMU: `CellEchem_fmi2.fmu` (`build_python_fmu('cell_echem', "
        "2, ..., runner='in-process')`, parameters `model`, `parameterSet`, `initialSoc`) in this process through fmpy's `FMU2Slave`: "
        "per step `setReal` of `current`, `doStep`, `getReal` of `batteryVoltage` and `stateOfCharge`; a fresh "
        "instance per run, instantiated and initialised (which builds the PyBaMM model) outside the timing, "
        "terminated and freed after it. PyBaMM whole cycle: the same model and parameters with "
        "`Current function [A] = Interpolant(t_k, I_k, floor(t))` (exactly the step-shaped current), "
        "`sim.build(initial_soc=0.7)` once, then one `IDAKLUSolver.solve(model, t_eval, t_interp)` per run, with "
        "`t_eval` holding every `t_k` and the float just below it, so IDAS stops at the end of each "
        "constant-current piece and restarts with the new current (how PyBaMM treats a `t >= t_k` Heaviside), "
        "and outputs at the 600 step ends. One warm-up run per case, then "
        f"{rounds} timed rounds, the cases of one model "
        "interleaved in each round (`time.perf_counter`); \"median of per-round ratios\" divides each run by the "
        "whole-cycle solve of the same round (cancelling slow load changes), \"fastest runs\" divides the "
        "fastest run by the fastest whole-cycle solve (the runs least disturbed by other processes).",
        "",
        *table,
        "",
        target,
        memory,
        *breakdown,
        sanity,
        *([contention] if contention else []),
        f"- whole run took {total:.0f} s (building the FMU {fmu_build_s:.1f} s).",
        "",
        "Re-run: `python benchmarks/bench_cell_echem.py` (needs pybamm with IDAKLU, fmpy and pythonfmu).",
    ])
    print(body)
    if args.dry_run:
        print("dry run: RESULTS.md not written")
        return
    update_results_section(SECTION, body)
    print(f"wrote section '{SECTION}' of {HERE / 'RESULTS.md'} ({total:.0f} s)")


if __name__ == "__main__":
    run_then_exit(main)
