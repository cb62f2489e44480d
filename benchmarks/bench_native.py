"""Steps per second of the native cell FMUs (CasADi-generated C, FMI 2.0 and 3.0), in a C host loop
and in a fmpy slave loop, beside the Python FMU (FMI 2.0) and the numpy twin, in one run.

Builds ``CellECMNative_fmi2.fmu`` / ``CellECMNative_fmi3.fmu`` (``fmutwin.fmi.native.build``) and
``CellECM_fmi2.fmu`` (pythonfmu, ``fmutwin.fmi.build``) into a temporary folder, then times the
US06 profile (``drive_cycle('US06', scale=10)``, 600 steps of 1 s, positive = discharge):

* native FMUs in C: ``benchmarks/native_bench_host.c``, compiled here with ``gcc -O2``, dlopens the
  FMU binary and runs set current / doStep / get batteryVoltage over the profile many times,
  timed inside C (``clock_gettime(CLOCK_MONOTONIC)``); it runs in a process without any
  ``PYTHON*`` variable or ``LD_PRELOAD`` (a native FMU needs no Python). The state is restored
  to the one after initialisation before every pass (untimed), or the cell would run empty.
* diagnostic: the same C loop around the generated step function alone (the FMU's own
  ``sources/model.c``, no FMI shell), to show what the FMI layer costs;
* native FMUs and the Python FMU through fmpy's ``FMU2Slave`` / ``FMU3Slave`` in this process
  (``setReal``/``setFloat64`` current, ``doStep``, ``getReal``/``getFloat64`` batteryVoltage), a
  fresh instance per pass, instantiated/initialised and terminated/freed outside the timing;
* the numpy twin called directly: ``CellECMTwin(default_cell_parameters()).step(current, 1.0)``.

After one untimed warm-up run per case, the cases run in turn, round by round (so that load
changes on a shared machine hit them alike); the table reports medians and fastest repeats.
Every case's voltage trace (warm-up pass) must equal the twin's within 1e-9 (relative) before
anything is timed. Results go to the "## Native FMU (generated C)" section of
benchmarks/RESULTS.md.

Usage: ``python benchmarks/bench_native.py`` (about a minute; needs gcc, fmpy and pythonfmu).
"""

from __future__ import annotations

import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_cell_twin import _version, machine_info, update_results_section  # noqa: E402  (adds src/ if needed)
from bench_common import FmpyInstances, cpu_ticks, run_then_exit, us06_steps  # noqa: E402

import fmpy  # noqa: E402

from fmutwin.fmi.build import build_python_fmu  # noqa: E402
from fmutwin.registry import twin  # noqa: E402
from fmutwin.fmi.native.build import build_native  # noqa: E402
from fmutwin.params import default_cell_parameters  # noqa: E402
from fmutwin.twins import CellECMTwin  # noqa: E402

SECTION = "## Native FMU (generated C)"
HOST_SOURCE = HERE / "native_bench_host.c"
HOST_INCLUDE = HERE.parent / "tests" / "fmi" / "c_host"  # fmi_host_common.h, shared with the test host
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra"]
ROUNDS = 7               # rounds; each runs every case (the C cases as new processes)
C_PASSES = 100           # profile passes per C repeat (60,000 steps)
C_REPEATS_PER_RUN = 3    # timed repeats per C process: 21 samples per C case in all
FMPY_NATIVE_PASSES = 20  # profile passes per sample, native FMUs through fmpy
SLOW_PASSES = 1          # profile passes per sample, Python FMU and numpy twin
DT = 1.0
AMBIENT_K = 298.15
RTOL = 1e-9


# ---- C side ----------------------------------------------------------------------------------------
def gcc_version() -> str:
    try:
        return subprocess.run(["gcc", "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def no_python_environment() -> dict[str, str]:
    """This process's environment without PYTHON* variables, LD_PRELOAD and VIRTUAL_ENV."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PYTHON") and k not in ("LD_PRELOAD", "VIRTUAL_ENV")}


def compile_c(args: list[str], exe: Path) -> float:
    """gcc ``CFLAGS args -o exe``; returns the compile time [s]."""
    t0 = time.perf_counter()
    cmd = ["gcc", *CFLAGS, "-o", str(exe), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"gcc failed ({' '.join(cmd)}):\n{proc.stderr}")
    return time.perf_counter() - t0


@dataclass
class CResult:
    """What one run of the C benchmark host printed."""

    steps_per_repeat: int
    seconds: list[float]
    cpu_seconds: list[float]
    voltages: np.ndarray | None  # warm-up pass, when a file was given


def run_c(cmd: list[str], voltage_file: Path | None = None) -> CResult:
    proc = subprocess.run(cmd, env=no_python_environment(), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    if proc.stderr.strip():  # the FMU logs nothing when all is well
        print(proc.stderr, file=sys.stderr)
    steps, seconds, cpu = 0, [], []
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "repeat":
            steps = int(parts[2])
            seconds.append(float(parts[3]))
            cpu.append(float(parts[4]))
    return CResult(steps, seconds, cpu, None if voltage_file is None else np.loadtxt(voltage_file, ndmin=1))


def step_function_stats(sources: Path) -> dict[str, int]:
    """Size of the generated step (the first CasADi function in ``model.c``): C statements per call
    (not comments, declarations or braces), segment searches (``casadi_low``), table reads at a
    searched index, divisions, copies of an input vector (``casadi_copy``), and the lengths of the
    parameter vector (``NP``) and of the derived vector (``ND``, computed once per parameter set)."""
    text = (sources / "model.c").read_text()
    body = text[text.index("static int casadi_f0("):]
    body = body[body.index("{") + 1:body.index("\n}\n")]
    lines = [line.strip() for line in body.splitlines()]
    statements = [line for line in lines if line.endswith(";") and not line.startswith(("/*", "casadi_real", "const ",
                                                                                         "casadi_int"))]
    config = (sources / "model_config.h").read_text()

    def define(name: str) -> int:
        match = re.search(rf"#define {name} (\d+)", config)
        return int(match.group(1)) if match else -1

    return {"statements": len(statements), "searches": body.count("casadi_low("), "reads": body.count("i=(int)"),
            "divisions": sum(line.count("/") for line in statements), "copies": body.count("casadi_copy("),
            "parameters": define("NP"), "derived": define("ND")}


def fmu_arguments(fmu: Path, voltage: str = "batteryVoltage") -> list[str]:
    """VERSION MODEL_ID TOKEN VR_CURRENT VR_AMBIENT VR_VOLTAGE for native_bench_host (the voltage
    output read each step: ``voltage``)."""
    md = fmpy.read_model_description(str(fmu))
    vrs = {v.name: v.valueReference for v in md.modelVariables}
    return [md.fmiVersion[0], md.coSimulation.modelIdentifier, md.guid,
            *(str(vrs[n]) for n in ("current", "ambientTemperature", voltage))]


# ---- Python side -----------------------------------------------------------------------------------
# A case: ``prepare()`` makes a fresh instance (untimed) and returns ``(loop, close)``; ``loop(record)``
# steps through the whole profile (timed), appending each voltage to ``record`` when it is a list;
# ``close()`` releases the instance (untimed).
Loop = Callable[[list | None], None]
Prepare = Callable[[], tuple[Loop, Callable[[], None]]]


class FmpyCase:
    """One FMU, extracted once; each ``prepare()`` instantiates and initialises a new instance."""

    def __init__(self, fmu: Path, currents: list[float], unzip_dir: Path) -> None:
        self.instances = FmpyInstances(fmu, unzip_dir)
        self.vr_in, self.vr_out = [self.instances.vrs["current"]], [self.instances.vrs["batteryVoltage"]]
        self.currents = currents

    def prepare(self) -> tuple[Loop, Callable[[], None]]:
        fmu, set_real, get_real = self.instances.open(reals={"ambientTemperature": AMBIENT_K})
        do_step = fmu.doStep
        vr_in, vr_out, currents = self.vr_in, self.vr_out, self.currents

        def loop(record: list | None = None) -> None:
            t = 0.0
            for i in currents:
                set_real(vr_in, [i])
                do_step(t, DT)
                t += DT
                v = get_real(vr_out)[0]
                if record is not None:
                    record.append(v)

        return loop, lambda: self.instances.close(fmu)

    def close_all(self) -> None:
        self.instances.close_all()


def twin_case(currents: list[float]) -> Prepare:
    """The numpy twin called directly: ``CellECMTwin.step(current, 1.0)``, voltage read per step."""
    params = default_cell_parameters()

    def prepare() -> tuple[Loop, Callable[[], None]]:
        step = CellECMTwin(params).step

        def loop(record: list | None = None) -> None:
            for i in currents:
                v = step(i, DT)["voltage_V"][0]
                if record is not None:
                    record.append(float(v))

        return loop, lambda: None

    return prepare


def sample(prepare: Prepare, passes: int, record: list | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of ``passes`` whole-profile loops, each on a fresh instance (set-up untimed)."""
    wall = cpu = 0.0
    for _ in range(passes):
        loop, close = prepare()
        try:
            c0, t0 = time.process_time(), time.perf_counter()
            loop(record)
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
        finally:
            close()
    return wall, cpu


def _check(label: str, voltages: Any, ref: np.ndarray) -> float:
    """Largest relative difference from the twin's voltage trace; AssertionError beyond RTOL."""
    v = np.asarray(voltages, dtype=float)
    assert v.shape == ref.shape, f"{label}: {v.shape} voltages, the twin has {ref.shape}"
    rel = float(np.max(np.abs(v - ref) / np.abs(ref)))
    assert rel <= RTOL, f"{label}: voltage departs from the twin's by {rel:.3g} (relative), more than {RTOL}"
    return rel


@dataclass
class Row:
    label: str
    steps: int                    # steps per sample
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def per_step_us(self, seconds: float) -> float:
        return seconds / self.steps * 1e6


def main() -> None:
    t_start = time.perf_counter()
    currents = us06_steps(10, DT)
    n_steps = len(currents)

    with tempfile.TemporaryDirectory(prefix="fmutwin_bench_native_") as tmp:
        tmp_dir = Path(tmp)
        t0 = time.perf_counter()
        native = {v: build_native(twin("cell_ecm"), tmp_dir / "fmus", v) for v in (2, 3)}
        native_build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        python_fmu = build_python_fmu(twin("cell_ecm"), 2, tmp_dir / "fmus", runner="in-process")
        python_build_s = time.perf_counter() - t0
        print(f"built {', '.join(p.name for p in native.values())} in {native_build_s:.1f} s, "
              f"{python_fmu.name} in {python_build_s:.1f} s", flush=True)

        ref_trace: list = []
        sample(twin_case(currents), 1, ref_trace)
        ref = np.array(ref_trace)
        max_rel: dict[str, float] = {}

        cases_py = {"native2": FmpyCase(native[2], currents, tmp_dir / "unzip_native2"),
                    "native3": FmpyCase(native[3], currents, tmp_dir / "unzip_native3"),
                    "python2": FmpyCase(python_fmu, currents, tmp_dir / "unzip_python2")}
        profile = tmp_dir / "us06_current.txt"
        profile.write_text("".join(f"{i!r}\n" for i in currents))

        # ---- C: compile, then each native FMU and the bare step function
        host = tmp_dir / "native_bench_host"
        host_compile_s = compile_c([f"-I{HOST_INCLUDE}", str(HOST_SOURCE), "-ldl"], host)
        sources = Path(cases_py["native2"].instances.unzip_dir) / "sources"
        step_exe = tmp_dir / "step_bench"
        from fmutwin.equations.cell import INPUTS

        step_compile_s = compile_c(["-DBENCH_STEP_FUNCTION", f"-DBENCH_U_CURRENT={INPUTS.index('current_A')}",
                                    "-DCASADI_SYMBOL_EXPORT=", f"-I{sources}",
                                    f"-I{HOST_INCLUDE}", str(HOST_SOURCE), str(sources / "model.c"), "-lm"], step_exe)
        print(f"compiled the C host in {host_compile_s:.1f} s, the step-function loop in {step_compile_s:.1f} s",
              flush=True)
        stats = step_function_stats(sources)
        rows: dict[str, Row] = {}
        c_runs = [("c2", "native FMI 2.0 FMU, C host loop",
                   [str(host), cases_py["native2"].instances.unzip_dir, *fmu_arguments(native[2])]),
                  ("c3", "native FMI 3.0 FMU, C host loop",
                   [str(host), cases_py["native3"].instances.unzip_dir, *fmu_arguments(native[3])]),
                  ("step", "generated step function alone, C loop without FMI (diagnostic)", [str(step_exe)])]
        py_runs: list[tuple[str, str, Prepare, int]] = [
            ("fmpy2", "native FMI 2.0 FMU, fmpy `FMU2Slave` loop", cases_py["native2"].prepare, FMPY_NATIVE_PASSES),
            ("fmpy3", "native FMI 3.0 FMU, fmpy `FMU3Slave` loop", cases_py["native3"].prepare, FMPY_NATIVE_PASSES),
            ("python2", "Python FMU FMI 2.0 (pythonfmu), fmpy `FMU2Slave` loop", cases_py["python2"].prepare,
             SLOW_PASSES),
            ("twin", "numpy twin called directly (`CellECMTwin.step`)", twin_case(currents), SLOW_PASSES),
        ]
        window_start, times_start, ticks_start = time.perf_counter(), os.times(), cpu_ticks()
        try:
            # warm-up: one run per case, its voltages checked against the twin's
            for key, label, cmd in c_runs:
                volts = tmp_dir / f"{key}_voltage.txt"
                result = run_c([*cmd, str(profile), "1", "1", str(volts)], volts)
                max_rel[label] = _check(label, result.voltages, ref)
                rows[key] = Row(label, C_PASSES * n_steps)
            for key, label, prepare, passes in py_runs:
                trace: list = []
                sample(prepare, 1, trace)
                max_rel[label] = _check(label, trace, ref)
                rows[key] = Row(label, n_steps * passes)
            # timed: every case once per round, so that a load change hits them alike
            for r in range(ROUNDS):
                for key, _label, cmd in c_runs:
                    result = run_c([*cmd, str(profile), str(C_PASSES), str(C_REPEATS_PER_RUN)])
                    assert result.steps_per_repeat == rows[key].steps
                    rows[key].wall += result.seconds
                    rows[key].cpu += result.cpu_seconds
                for key, _label, prepare, passes in py_runs:
                    wall, cpu = sample(prepare, passes)
                    rows[key].wall.append(wall)
                    rows[key].cpu.append(cpu)
                print(f"round {r + 1}/{ROUNDS}: "
                      + ", ".join(f"{key} {rows[key].per_step_us(rows[key].wall[-1]):.2f}"
                                  for key, *_ in c_runs + py_runs) + " µs/step", flush=True)
        finally:
            for case in cases_py.values():
                case.close_all()
            gc.collect()  # a reference-count fault in an FMU run time shows up here, not at exit

        window_s, times_end, ticks_end = time.perf_counter() - window_start, os.times(), cpu_ticks()
    total = time.perf_counter() - t_start
    contention = ""
    if ticks_start is not None and ticks_end is not None:
        hz = os.sysconf("SC_CLK_TCK")
        ours = sum(b - a for a, b in zip(times_start[:4], times_end[:4]))  # this process and its C runs
        others = (ticks_end[0] - ticks_start[0]) / hz - ours
        steal = (ticks_end[1] - ticks_start[1]) / hz
        contention = (f"- other processes used about {max(others, 0.0):.0f} CPU-s during the {window_s:.0f} s of "
                      f"measurements ({os.cpu_count()} logical cores; `/proc/stat` minus this process and its C "
                      f"runs), steal time {steal:.1f} s. \"CPU / wall\" below 1 means the timed process waited "
                      "for a CPU; a wide spread with CPU / wall near 1 means it kept its CPU but ran slower "
                      "(e.g. another process on the other logical core, or on the host), so the fastest repeat "
                      "is the better estimate of the speed on a quiet machine.")

    # ---- table
    order = ["c2", "c3", "step", "fmpy2", "fmpy3", "python2", "twin"]
    twin_us = rows["twin"].per_step_us(statistics.median(rows["twin"].wall))
    table = ["| case | median time per step [µs] | steps/s (median) | speed vs numpy twin | "
             "fastest repeat, time per step [µs] | fastest/slowest repeat vs median | CPU / wall | "
             "steps per repeat |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key in order:
        row = rows[key]
        med = statistics.median(row.wall)
        us = row.per_step_us(med)
        factor = "1" if key == "twin" else f"{twin_us / us:,.{0 if twin_us / us >= 10 else 2}f}x"
        spread = f"{min(row.wall) / med * 100 - 100:+.0f}/{max(row.wall) / med * 100 - 100:+.0f}%"
        label = f"**{row.label}**" if key in ("c2", "c3") else row.label
        table.append(f"| {label} | {us:,.{3 if us < 100 else 1}f} | {1e6 / us:,.0f} | {factor} | "
                     f"{row.per_step_us(min(row.wall)):,.{3 if us < 100 else 1}f} | {spread} | "
                     f"{sum(row.cpu) / sum(row.wall):.2f} | {row.steps:,} |")
        print(table[-1])
    med_us = {k: rows[k].per_step_us(statistics.median(rows[k].wall)) for k in ("c2", "c3", "step")}
    best_us = {k: rows[k].per_step_us(min(rows[k].wall)) for k in ("c2", "c3", "step")}
    c_best = 1e6 / min(med_us["c2"], med_us["c3"])
    c_fastest = 1e6 / min(best_us["c2"], best_us["c3"])
    worst_rel = max(max_rel.values())
    v_min, v_max = float(ref.min()), float(ref.max())
    anatomy = (
        f"The generated step function alone takes {med_us['step']:.2f} µs per step (diagnostic row; fastest "
        f"repeat {best_us['step']:.2f} µs); the FMI shell and the host loop add "
        f"{med_us['c2'] - med_us['step']:+.2f} µs (FMI 2.0) / {med_us['c3'] - med_us['step']:+.2f} µs (FMI 3.0) "
        f"comparing medians, {best_us['c2'] - best_us['step']:+.2f} / {best_us['c3'] - best_us['step']:+.2f} µs "
        f"comparing fastest repeats. The step's generated C (MX form, `fmutwin.symbolic`) is {stats['statements']:,} "
        f"statements per call with {stats['searches']} segment searches (CasADi `low`: binary search on the "
        f"110-point OCV grid, linear scan on the 4-21-point grids), {stats['reads']} table reads at the found "
        f"index and {stats['divisions']} divisions; the tables stay in the run-time parameter vector "
        f"({stats['parameters']:,} values), read through a pointer ({stats['copies']} `casadi_copy` of an input "
        f"vector: the 4 inputs), and the exact OCV mean over a step's SOC interval is O(1) from the OCV table's "
        f"cumulative integral, which `derive(p)` computes once per parameter set into the derived vector "
        f"({stats['derived']} values). Earlier runs (another machine, an AMD EPYC with 2 logical cores): commit "
        "120f974 (2026-11-23) 378,974 / 348,525 steps/s (FMI 2.0 / 3.0 medians), the step alone 2.57 µs, when "
        "every lookup copied its table's grid and values (about 1,360 scalar copies of parameters per step) into a "
        "parametric `ca.interpolant` call and the OCV mean summed a correction over all 110 OCV knots; commit "
        "7b5fec0 (2026-11-23, the MX step) 2,393,955 / 2,384,465 steps/s, the step alone 0.37 µs and the shell "
        "+0.04 µs. The twin-neutral shell (#11: the FMI state machine, parameter-bounded input ranges, warn "
        "ranges, typed access) is measured here on the present machine, whose medians spread widely between runs")
    if c_best >= 1e6:
        target = (f"**reached**: the best C median is {c_best:,.0f} steps/s (FMI 2.0 "
                  f"{1e6 / med_us['c2']:,.0f}, FMI 3.0 {1e6 / med_us['c3']:,.0f}; fastest single repeat "
                  f"{c_fastest:,.0f}). {anatomy}")
    else:
        target = (f"**not reached**: the best C median is {c_best:,.0f} steps/s (FMI 2.0 "
                  f"{1e6 / med_us['c2']:,.0f}, FMI 3.0 {1e6 / med_us['c3']:,.0f}; fastest single repeat "
                  f"{c_fastest:,.0f}). {anatomy}")

    body = "\n".join([
        *machine_info(),
        f"- {gcc_version()}; FMU binaries built by `fmutwin.fmi.native.build` with `gcc -shared -fPIC -O2`, "
        f"the C benchmark host with `gcc {' '.join(CFLAGS)}`; fmpy {_version('fmpy')}, "
        f"pythonfmu {_version('pythonfmu')}",
        "",
        f"US06 profile (`fmutwin.data.drive_cycle('US06', scale=10)`, -42..81 A on the 100 Ah default cell), "
        f"{n_steps} steps of 1 s (`current[k]` held over `[t_k, t_k+1]`), ambient 298.15 K, default parameters. "
        "Per step every case sets `current`, steps 1 s and reads `batteryVoltage` (the twin: "
        "`y = CellECMTwin.step(current, 1.0)`, `y['voltage_V'][0]`).",
        "",
        "- C host loop: `benchmarks/native_bench_host.c` dlopens the unzipped native FMU, instantiates and "
        "initialises it, then runs `fmi2SetReal`/`fmi3SetFloat64` of current, `fmi2DoStep`/`fmi3DoStep`, "
        "`fmi2GetReal`/`fmi3GetFloat64` of batteryVoltage, each status checked, timed in C with "
        f"`clock_gettime(CLOCK_MONOTONIC)`. A repeat is {C_PASSES} passes of the profile "
        f"({C_PASSES * n_steps:,} steps); before each pass the state saved after initialisation is restored "
        "with `fmi2SetFMUstate`/`fmi3SetFMUState` (not timed; else the cell would run empty). Each process "
        f"runs one untimed warm-up pass, then {C_REPEATS_PER_RUN} repeats; it runs with no `PYTHON*` variable "
        "and no `LD_PRELOAD`.",
        "- generated step function alone (diagnostic): the same loop calling the CasADi step "
        "`(x, u, p, d) -> (x_next, y)` of the FMU's own `sources/model.c` directly (compiled with `-O2` into "
        "the benchmark program, not as a shared library; `d = derive(p)` once before timing, as the shell does "
        "at exit of initialisation), without the FMI shell's per-step input, range and finiteness checks.",
        "- fmpy loops: in this Python process through fmpy's `FMU2Slave`/`FMU3Slave`; a fresh instance per "
        "pass, instantiated, initialised, terminated and freed outside the timing (`time.perf_counter` around "
        f"the step loop). A repeat is {FMPY_NATIVE_PASSES} passes for the native FMUs, {SLOW_PASSES} for the "
        "Python FMU and the twin.",
        f"- one untimed warm-up run per case, then {ROUNDS} rounds, each running every case in turn (a C case "
        f"as one new process of {C_REPEATS_PER_RUN} repeats), so that load changes on this shared machine hit "
        f"all cases alike: {ROUNDS * C_REPEATS_PER_RUN} repeats per C case, {ROUNDS} per Python case; the "
        "table shows the median and the fastest repeat.",
        "- speed vs numpy twin: the twin's median time per step divided by the case's.",
        f"- sanity check: the voltage of every case over the first pass equals the twin's within "
        f"{worst_rel:.1e} (relative; required <= {RTOL:g}) at every step ({v_min:.3f}..{v_max:.3f} V).",
        "",
        *table,
        "",
        f"- issue target, 1,000,000 steps/s for a native FMU in a C host: {target}.",
        "- through fmpy each step makes three ctypes calls (with fmpy's argument conversion) around the same "
        "C step, so the fmpy figure is the C figure plus Python's call overhead.",
        f"- building both native FMUs took {native_build_s:.0f} s (CasADi code generation and gcc on "
        f"`model.c`), the Python FMU {python_build_s:.1f} s; compiling the benchmark host "
        f"{host_compile_s:.1f} s and the step-function loop {step_compile_s:.0f} s.",
        *([contention] if contention else []),
        f"- whole run took {total:.0f} s.",
        "",
        "Re-run: `python benchmarks/bench_native.py` (needs gcc, fmpy and pythonfmu; with fmutwin installed, or "
        "from the project root, it falls back to `src/`).",
    ])
    update_results_section(SECTION, body)
    print(f"wrote section '{SECTION}' of {HERE / 'RESULTS.md'} ({total:.0f} s)")


if __name__ == "__main__":
    run_then_exit(main)
