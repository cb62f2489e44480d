"""Steps per second of the numpy cell ECM twin (``CellECMTwin.step``) over the US06 profile.

Measures 1 cell per call and 1,000 cells per vectorised call, for the default parameter set
(1 RC pair, lumped thermal) and for a set with every optional feature on. A plain hand-written
numpy 1-RC loop runs in the same process as a reference, to show what the general twin costs.
Each case runs the whole US06 profile (601 steps of 1 s) once to warm up, then REPEATS times;
the medians are written to the "## Cell ECM twin (numpy)" section of benchmarks/RESULTS.md.

Usage: ``python benchmarks/bench_cell_twin.py`` (about a minute). Positive current = discharge.

Other benchmark scripts can add their own sections to RESULTS.md with
``from bench_cell_twin import machine_info, update_results_section``.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
try:
    import fmutwin  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

from fmutwin.data import drive_cycle  # noqa: E402
from fmutwin.params import CellParameters, default_cell_parameters  # noqa: E402
from fmutwin.twins import CellECMTwin  # noqa: E402

RESULTS = HERE / "RESULTS.md"
RESULTS_HEADER = ("# fmutwin benchmarks\n\n"
                  "Each `## ` section below is written by one script in `benchmarks/`; re-running a script\n"
                  "replaces only its own section.\n")
SECTION = "## Cell ECM twin (numpy)"
REPEATS = 7
N_CELLS = 1000
SEED = 12345


# ---- RESULTS.md: one section per benchmark ----------------------------------------------------
def update_results_section(heading: str, body: str, path: Path = RESULTS) -> None:
    """Replace the section ``heading`` (up to the next ``## `` heading) in ``path``, or append it.

    Everything else in the file is kept; a missing file starts with a short top-level header.
    """
    text = path.read_text() if path.exists() else RESULTS_HEADER
    lines = text.splitlines(keepends=True)
    new = [heading.rstrip() + "\n", "\n", body.strip("\n") + "\n"]
    start = next((k for k, line in enumerate(lines) if line.rstrip() == heading.rstrip()), None)
    if start is None:
        if lines and lines[-1].strip():
            lines.append("\n")
        lines += new
    else:
        end = next((k for k in range(start + 1, len(lines)) if lines[k].startswith("## ")), len(lines))
        lines[start:end] = new + (["\n"] if end < len(lines) else [])
    path.write_text("".join(lines))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # not installed, or no __version__
        return "not installed"


def _git_commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + (" (with uncommitted changes in src/)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_info() -> list[str]:
    """Markdown bullet lines: date, machine, library versions, OPENBLAS_CORETYPE."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    lines = [
        f"- date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- fmutwin commit: {_git_commit()}",
        f"- machine: {platform.platform()}, {platform.machine()}",
        f"- CPU: {_cpu_model()}, {os.cpu_count()} logical cores ({usable} usable by this process)",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), numpy {np.__version__}, "
        f"scipy {_version('scipy')}, casadi {_version('casadi')}, pydantic {_version('pydantic')}",
    ]
    if hasattr(os, "getloadavg"):
        lines.append("- load average (1/5/15 min) when the results were written: "
                     + " / ".join(f"{x:.2f}" for x in os.getloadavg()))
    if "OPENBLAS_CORETYPE" in os.environ:
        lines.append(f"- OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}")
    else:
        lines.append("- OPENBLAS_CORETYPE: not set")
    return lines


# ---- parameter sets ------------------------------------------------------------------------------
def _scaled(table: Any, factor: float) -> Any:
    """A table dict (or number) from ``model_dump`` with its values multiplied by ``factor``."""
    if isinstance(table, dict):
        return {**table, "values": (np.asarray(table["values"], dtype=float) * factor).tolist()}
    return table * factor


def all_features_parameters() -> CellParameters:
    """The default cell plus hysteresis, self-discharge, 3 RC pairs, cycling and calendar aging and
    every fault (internal short and series resistance fire during the run; the exotherm and the
    current interrupt device are evaluated every step but stay inactive at these temperatures)."""
    d = default_cell_parameters().model_dump(exclude_none=True)
    rc1 = d["rc_branches"][0]
    d["rc_branches"] = [rc1] + [{k: _scaled(v, r_f if "resistance" in k else tau_f) for k, v in rc1.items()}
                                for r_f, tau_f in ((0.5, 10.0), (0.3, 100.0))]
    d["hysteresis"] = {"rate": 50.0, "max_voltage_V": {"soc": [0.0, 0.5, 1.0], "values": [0.03, 0.01, 0.02]},
                       "instantaneous_voltage_V": 0.002, "initial_state": 0.0}
    d["self_discharge_resistance_ohm"] = {"temperature_K": [273.15, 298.15, 323.15], "values": [4e4, 2e4, 1e4]}
    d["cycling_aging"] = {"reference_cycles": 1000.0, "capacity_change_percent": -20.0,
                          "resistance_change_percent": 50.0, "ocv_change_percent": -1.0, "initial_cycles": 200.0}
    d["calendar_aging"] = {"storage_time_s": 3.15e7, "storage_temperature_K": 308.15, "storage_soc": 0.8,
                           "reference_time_s": 3.15e7, "capacity_loss_percent": 5.0,
                           "resistance_increase_percent": 10.0}
    d["faults"] = {
        "internal_short": {"trigger": {"kind": "time", "time_s": 300.0}, "resistance_ohm": 100.0},
        "series_resistance": {"trigger": {"kind": "time", "time_s": 200.0}, "resistance_ohm": 5e-4},
        "exothermic_reaction": {"trigger": {"kind": "temperature", "temperature_K": 400.0},
                                "onset_temperature_K": 420.0, "activation_energy_J_per_mol": 1.5e5,
                                "reaction_heat_J": 2e5},
        "current_interruption": {"temperature_K": 410.0},
    }
    d["name"] = "pybamm_ecm_example_all_features"
    return CellParameters.from_dict(d, origin="benchmark all-features set")


# ---- what is timed ----------------------------------------------------------------------------
Runner = Callable[..., np.ndarray]


def twin_runner(params: CellParameters, currents: np.ndarray, n_cells: int) -> Runner:
    """A function that resets a twin and steps it through ``currents`` (one row per step);
    ``run(record)`` appends each step's voltages to the list ``record`` (for the sanity check)."""
    twin = CellECMTwin(params, n_cells=n_cells)
    start = twin.get_state()
    rows = [currents[k] for k in range(len(currents))]  # scalars (1 cell) or per-cell arrays

    def run(record: list | None = None) -> np.ndarray:
        twin.set_state(start)
        for i in rows:
            y = twin.step(i, dt_s=1.0)
            if record is not None:
                record.append(y["voltage_V"].copy())
        return y["voltage_V"]

    return run


def reference_runner(params: CellParameters, currents: np.ndarray, n_cells: int,
                     temperature_K: float = 298.15) -> Runner:
    """A plain numpy 1-RC cell: OCV, R0, R1 and tau by np.interp over SOC only (discharge tables
    taken at ``temperature_K`` once, outside the loop), exact exponential RC update, no thermal."""

    def soc_table(table: Any) -> tuple[np.ndarray, np.ndarray]:
        values = table.array
        if table.temperature_K is not None:
            t_grid = np.asarray(table.temperature_K)
            values = np.array([np.interp(temperature_K, t_grid, row) for row in np.atleast_2d(values)])
        return np.asarray(table.soc, dtype=float), values

    soc_ocv, ocv = soc_table(params.ocv_V)
    soc_r0, r0 = soc_table(params.r0_ohm)
    soc_r1, r1 = soc_table(params.rc_branches[0].resistance_ohm)
    soc_tau, tau = soc_table(params.rc_branches[0].time_constant_s)
    capacity = params.nominal_capacity_As
    soc0 = params.initial.soc
    dt = 1.0
    rows = [np.broadcast_to(currents[k], (n_cells,)).astype(float) for k in range(len(currents))]

    def run(record: list | None = None) -> np.ndarray:
        soc = np.full(n_cells, soc0)
        v_rc = np.zeros(n_cells)
        v = np.zeros(n_cells)
        for i in rows:
            r1_k = np.interp(soc, soc_r1, r1)
            tau_k = np.interp(soc, soc_tau, tau)
            v_rc = v_rc + (r1_k * i - v_rc) * -np.expm1(-dt / tau_k)
            soc = soc - i * dt / capacity
            v = np.interp(soc, soc_ocv, ocv) - i * np.interp(soc, soc_r0, r0) - v_rc
            if record is not None:
                record.append(v)
        return v

    return run


def measure(run: Runner, repeats: int = REPEATS) -> tuple[list[float], np.ndarray]:
    """Wall times [s] of ``repeats`` runs of ``run`` after one warm-up run; the last result."""
    result = run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    return times, result


def main() -> None:
    _, current = drive_cycle("US06", scale=10)
    n_steps = len(current)
    factors = np.random.default_rng(SEED).uniform(0.9, 1.1, N_CELLS)
    currents_many = current[:, None] * factors[None, :]
    default = default_cell_parameters()
    full = all_features_parameters()

    cases = [  # (label, n_cells, runner)
        ("twin, default set (1 RC, lumped thermal)", 1, twin_runner(default, current, 1)),
        ("twin, default set (1 RC, lumped thermal)", N_CELLS, twin_runner(default, currents_many, N_CELLS)),
        ("twin, every feature on", 1, twin_runner(full, current, 1)),
        ("twin, every feature on", N_CELLS, twin_runner(full, currents_many, N_CELLS)),
        ("reference: plain numpy 1-RC loop", 1, reference_runner(default, current, 1)),
        ("reference: plain numpy 1-RC loop", N_CELLS, reference_runner(default, currents_many, N_CELLS)),
    ]
    results = []
    t_start = time.perf_counter()
    for label, n_cells, run in cases:
        times, v_end = measure(run)
        median_s = statistics.median(times)
        calls = n_steps / median_s
        spread = f"{min(times) / median_s * 100 - 100:+.0f}/{max(times) / median_s * 100 - 100:+.0f}%"
        results.append((label, n_cells, median_s, calls, spread))
        print(f"{label:45s} {n_cells:5d} cells: {median_s * 1e3:9.1f} ms/profile ({spread}), {calls:10.0f} calls/s, "
              f"{calls * n_cells:12.0f} cell-steps/s, end voltage {np.min(v_end):.4f}..{np.max(v_end):.4f} V",
              flush=True)
    total = time.perf_counter() - t_start

    ref = {n: r[3] for r in results if r[0].startswith("reference") for n in [r[1]]}
    table = ["| case | cells per call | median time per call [µs] | calls/s | cell-steps/s | "
             "slower than reference | fastest/slowest run vs median |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, n_cells, median_s, calls, spread in results:
        slower = "1" if label.startswith("reference") else f"{ref[n_cells] / calls:.1f}x"
        table.append(f"| {label} | {n_cells:,} | {median_s / n_steps * 1e6:,.1f} | {calls:,.0f} | "
                     f"{calls * n_cells:,.0f} | {slower} | {spread} |")

    # sanity check (untimed): voltage traces of the default twin and of the reference, 1 cell
    v_twin, v_ref = [], []
    cases[0][2](v_twin)
    cases[4][2](v_ref)
    dv_mV = np.max(np.abs(np.ravel(v_twin) - np.ravel(v_ref))) * 1e3
    print(f"sanity: max |V_twin - V_reference| over the profile = {dv_mV:.2f} mV "
          f"(twin voltage {np.min(v_twin):.3f}..{np.max(v_twin):.3f} V)")
    body = "\n".join([
        *machine_info(),
        "",
        f"US06 profile (`fmutwin.data.drive_cycle('US06', scale=10)`, {n_steps} steps of `dt_s=1.0`, "
        f"-42..81 A on the 100 Ah default cell; {N_CELLS:,} cells: the same current times a per-cell "
        f"factor uniform in [0.9, 1.1], seed {SEED}). Each figure is the median of {REPEATS} runs of the "
        "whole profile after one warm-up run (`time.perf_counter`); the twin's state is reset between runs "
        "(not timed). A \"call\" is one `CellECMTwin.step` (or one iteration of the reference loop).",
        "",
        *table,
        "",
        "- default set: `default_cell_parameters()` (PyBaMM ECM example: 1 RC pair, R0 and RC tables over "
        "SOC x temperature, charge tables for R0 and the RC pair (identical to the discharge ones in this set, "
        "but looked up every step), lumped thermal).",
        "- every feature on: the default set plus hysteresis, self-discharge, 3 RC pairs, cycling and "
        "calendar aging, an internal short (fires at 300 s) and a series-resistance fault (200 s), an "
        "exothermic reaction and a current interrupt device (evaluated every step, never triggered); thermal "
        "model still lumped (`all_features_parameters()` in the script).",
        "- reference: hand-written numpy loop with OCV, R0, R1 and tau from `np.interp` over SOC only "
        "(discharge tables at 298.15 K), exact exponential RC update, no input checks, thermal model, "
        "energies or outputs dict. Sanity check: over the profile the twin's voltage (1 cell, default set) "
        f"stays within {dv_mV:.2f} mV of the reference's ({np.min(v_twin):.3f}..{np.max(v_twin):.3f} V); "
        "the twin also tracks the cell temperature (which rises by only a few mK here).",
        f"- whole run took {total:.0f} s.",
        "",
        "Re-run: `python benchmarks/bench_cell_twin.py` (with fmutwin installed, or from the project root; "
        "it falls back to `src/`).",
    ])
    update_results_section(SECTION, body)
    print(f"wrote section '{SECTION}' of {RESULTS} ({total:.0f} s)")


if __name__ == "__main__":
    main()
