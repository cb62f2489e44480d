"""Cell-steps per second of the module and the monolithic pack: the numpy twins, the native module
FMU in a C host, and liionpack on the same pack size and cycle, in one run.

The cycle is WLTC (``../shared/data/drive_cycles/WLTC.csv``), a vehicle's battery power demand at
0.1 s: averaged over each second (``fmutwin.data.power_per_second``), 1800 steps of 1 s, and
converted to current **with the pack voltage each step**: ``PackTwin.step_power`` takes the
current as the power over the pack voltage at the end of the previous step (at rest before the
first). Cases:

* the monolithic 96s4p pack (``PackTwin(default_pack_parameters())``: 8 of the shipped 12s4p
  modules, 384 cells, coolant 0.1 kg/s at 298.15 K, ambient 298.15 K), whole WLTC runs, plus
  one instrumented run that records where the time goes (cells, the split's linear solves, the
  thermal system, the rest);
* the same pack with ``backend="compiled"`` (the modules' equations as generated C), its build
  timed from an empty cache, its results checked against the numpy pack's;
* the 12s4p module (``ModuleTwin(default_module_parameters())``) with the pack's current (the
  modules are in series, so each carries the pack current);
* the native module FMU (FMI 2.0 and 3.0, generated C) in ``native_bench_host.c`` (as in
  bench_native.py) with the same currents, its ``moduleVoltage`` checked against the numpy
  twin's (1e-9 relative) before timing;
* the 12s4p module of PyBaMM SPM and SPMe cells (``ModuleEchemTwin``, Chen2020, the current times
  5/100 as the peer's SPM/SPMe rows) over the first ``PEER_STEPS`` steps, set-up apart;
* the peer, liionpack 0.4.0, in its own virtual environment (``liionpack_peer.py``): 96s4p
  (``lp.setup_circuit(4, 96, Rb=1e-4, Rc=1e-2, configuration="series-groups")``,
  ``manager="casadi"``, ``nproc=2``) over the first ``PEER_STEPS`` steps of the same current, with
  PyBaMM's Thevenin ECM on its ``ECM_Example`` set (the cell fmutwin's default cell is converted
  from) and, as more rows, SPM and SPMe on Chen2020 (5 Ah: the current times 5/100, the same
  C-rate); and its one-step lag on 4 identical cells in parallel against a standalone cell.

The peer environment is made on first use with ``python -m venv`` and ``pip install
liionpack==0.4.0 pybamm==24.11.0 casadi==3.6.7 "pandas<3"`` (pip's defaults, casadi 3.8 and
pandas 3, do not work with them) in ``FMUTWIN_PEER_VENV`` (default
``~/.cache/fmutwin/liionpack-0.4.0-venv``) and reused after; if it cannot be made or run, its rows
say why and the rest is still measured. Results go to the "## Module and pack" section of
benchmarks/RESULTS.md.

Usage: ``python benchmarks/bench_pack.py`` (about 10 minutes with the peer, 2 without;
``--no-peer`` skips it).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the peer's environment, shared with the tests
from bench_cell_twin import machine_info, update_results_section  # noqa: E402  (adds src/ if needed)
from bench_common import run_then_exit  # noqa: E402
from bench_native import HOST_INCLUDE, HOST_SOURCE, compile_c, fmu_arguments, gcc_version, run_c  # noqa: E402
from peer_environment import peer_environment, peer_python  # noqa: E402

from fmutwin.data import power_per_second  # noqa: E402
from fmutwin.equations import cell as cell_equations  # noqa: E402
from fmutwin.equations import pack_thermal  # noqa: E402
from fmutwin.fmi.native.build import build_native  # noqa: E402
from fmutwin.ops import Ops  # noqa: E402
from fmutwin.params.defaults import default_module_parameters, default_pack_parameters  # noqa: E402
from fmutwin.registry import twin  # noqa: E402
from fmutwin.twins.module import ModuleTwin  # noqa: E402
from fmutwin.twins.pack import PackTwin  # noqa: E402

SECTION = "## Module and pack (numpy twins, native module FMU, liionpack)"
ROUNDS = 5
C_PASSES, C_REPEATS, C_ROUNDS = 10, 3, 3
PEER_STEPS = 300
PEER_MODELS = ("Thevenin", "SPM", "SPMe")
COOLANT = {"coolant_flow_kg_per_s": 0.1, "coolant_inlet_temperature_K": 298.15, "ambient_temperature_K": 298.15}
RTOL = 1e-9


def pack_run(time_s: np.ndarray, power: np.ndarray, backend: str = "numpy") -> tuple[float, dict[str, np.ndarray]]:
    pack = PackTwin(default_pack_parameters(), backend)
    t0 = time.perf_counter()
    out = pack.run(time_s, power_W=power, **COOLANT)
    return time.perf_counter() - t0, out


def pack_breakdown(time_s: np.ndarray, power: np.ndarray) -> dict[str, float]:
    """Seconds of one instrumented pack run by part: the cell equations, the split's (and the
    end-of-step split's) small linear solves, the thermal system, and the whole run."""
    spent: Counter = Counter()
    patched: list[tuple[Any, str, Any]] = []

    def timed(owner: Any, name: str, part: str, static: bool = False) -> None:
        original = owner.__dict__[name]
        function = original.__func__ if static else original

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - t0

        patched.append((owner, name, original))
        setattr(owner, name, staticmethod(wrapper) if static else wrapper)

    for name in ("start_of_step", "held_tables", "circuit_over_step", "heat_over_step", "end_of_step"):
        timed(cell_equations, name, "cells")
    timed(Ops, "solve_small", "split", static=True)
    timed(Ops, "solve_spd_banded", "thermal")
    for name in ("system", "finish"):
        timed(pack_thermal, name, "thermal")
    try:
        wall, _ = pack_run(time_s, power)
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)
    return {**spent, "total": wall}


def module_case(time_s: np.ndarray, current: np.ndarray) -> Callable[[], tuple[float, np.ndarray]]:
    params = default_module_parameters()

    def run() -> tuple[float, np.ndarray]:
        module = ModuleTwin(params)
        t0 = time.perf_counter()
        out = module.run(time_s, current)
        return time.perf_counter() - t0, out["module_voltage_V"]

    return run


def echem_module_case(current: np.ndarray, model: str) -> dict[str, float]:
    """The 12s4p module of PyBaMM cells (``ModuleEchemTwin``, Chen2020, 5 Ah: the pack current
    times 5/100, the C-rate of the peer's SPM/SPMe rows) over the first PEER_STEPS steps: wall
    time (set-up, i.e. PyBaMM's build and the compile, apart) and the split's batched cell steps."""
    from fmutwin.params.module_echem import ModuleEchemParameters
    from fmutwin.twins.module_echem import ModuleEchemTwin

    params = ModuleEchemParameters.from_dict({
        "name": f"bench_12s4p_{model}", "source": "benchmark", "n_series": 12, "n_parallel": 4,
        "cell": {"model": model, "parameter_set": "Chen2020", "heat_capacity_J_per_K": 70.0, "initial_soc": 0.5},
        "interconnect": {"tab_resistance_ohm": 1e-3, "parallel_busbar_resistance_ohm": 1e-4},
        "thermal": {"cold_plate_conductance_W_per_K": 0.5},
        "variation": {"capacity_scale": {"kind": "normal", "spread": 0.02, "seed": 1}}})
    t0 = time.perf_counter()
    module = ModuleEchemTwin(params)
    setup = time.perf_counter() - t0
    cur = current[:PEER_STEPS] * 5.0 / 100.0
    t0 = time.perf_counter()
    out = module.run(np.arange(PEER_STEPS + 1.0), cur)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "setup_s": setup, "cell_steps": PEER_STEPS * params.n_cells,
            "evaluations": float(np.mean(out["split_evaluations"])),
            "residual_V": float(np.max(out["split_residual_V"]))}


# ---- the peer -------------------------------------------------------------------------------------
def run_peer(python: Path, currents: np.ndarray, tmp: Path) -> dict[str, Any]:
    profile = tmp / "peer_current.txt"
    profile.write_text("".join(f"{float(i)!r}\n" for i in currents))
    request = tmp / "peer_request.json"
    request.write_text(json.dumps({"profile": str(profile), "steps": PEER_STEPS, "np": 4, "ns": 96,
                                   "models": list(PEER_MODELS), "spm_current_scale": 5.0 / 100.0, "nproc": 2}))
    proc = subprocess.run([str(python), str(HERE / "liionpack_peer.py"), str(request)], capture_output=True,
                          text=True, timeout=3600, env=peer_environment())
    if proc.returncode != 0:
        return {"error": f"liionpack_peer.py exited with {proc.returncode}: {proc.stderr.strip()[-500:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def identical_split_check(current: np.ndarray) -> dict[str, float]:
    """fmutwin's counterpart of the peer's lag check: 4 identical cells in parallel, no
    interconnects, against the cell twin at I / 4 (voltage and current, every step)."""
    from fmutwin.params import default_cell_parameters
    from fmutwin.params.module import ModuleParameters
    from fmutwin.twins import CellECMTwin

    cell = default_cell_parameters()
    module = ModuleTwin(ModuleParameters(name="1s4p", source="benchmark", cell=cell, n_series=1, n_parallel=4))
    single = CellECMTwin(cell)
    dv = di = 0.0
    for i in current[:PEER_STEPS]:
        y = module.step(float(i), 1.0)
        ys = single.step(float(i) / 4.0, 1.0)
        dv = max(dv, float(np.max(np.abs(y["cell_voltage_V"] - ys["voltage_V"][0]))))
        di = max(di, float(np.max(np.abs(y["cell_current_A"] - i / 4.0))))
    return {"voltage_V": dv, "current_A": di}


# ---- the run --------------------------------------------------------------------------------------
def main() -> None:
    t_start = time.perf_counter()
    with_peer = "--no-peer" not in sys.argv[1:]
    time_s, power = power_per_second("WLTC")
    n_steps = len(power)
    pack_cells = default_pack_parameters().n_modules * default_module_parameters().n_cells
    module_cells = default_module_parameters().n_cells

    # first pack run: the currents every other case uses
    first_s, out = pack_run(time_s, power)
    current = out["pack_current_A"]
    print(f"pack WLTC run {first_s:.2f} s; current {current.min():.1f}..{current.max():.1f} A, "
          f"pack voltage {out['pack_voltage_V'].min():.1f}..{out['pack_voltage_V'].max():.1f} V", flush=True)
    delivered = out["pack_power_W"]
    power_error = float(np.max(np.abs(delivered - power)))
    cache = tempfile.mkdtemp(prefix="fmutwin_bench_jit_")
    os.environ["FMUTWIN_CACHE"] = cache  # an empty cache: the compiled pack's build is timed in full
    t0 = time.perf_counter()
    PackTwin(default_pack_parameters(), "compiled")
    compile_s = time.perf_counter() - t0
    compiled_s, compiled_out = pack_run(time_s, power, "compiled")
    agreement = {key: float(np.max(np.abs(compiled_out[key] - out[key])))
                 for key in ("pack_voltage_V", "cell_voltage_V", "cell_mean_current_A", "cell_temperature_K")}
    print(f"compiled pack: built in {compile_s:.1f} s, run {compiled_s:.2f} s, against numpy {agreement}", flush=True)

    with tempfile.TemporaryDirectory(prefix="fmutwin_bench_pack_") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        native = {v: build_native(twin("module"), tmp / "fmus", v) for v in (2, 3)}
        build_s = time.perf_counter() - t0
        host = tmp / "native_bench_host"
        compile_c([f"-I{HOST_INCLUDE}", str(HOST_SOURCE), "-ldl"], host)
        profile = tmp / "module_current.txt"
        profile.write_text("".join(f"{float(i)!r}\n" for i in current))
        import fmpy

        unzipped = {v: str(fmpy.extract(str(native[v]), unzipdir=str(tmp / f"unzip{v}"))) for v in (2, 3)}
        print(f"built the native module FMUs in {build_s:.0f} s", flush=True)

        module_run = module_case(time_s, current)
        _, module_voltage = module_run()
        checks: dict[int, float] = {}
        for v in (2, 3):
            volts = tmp / f"voltage{v}.txt"
            result = run_c([str(host), unzipped[v], *fmu_arguments(native[v], "moduleVoltage"), str(profile), "1", "1",
                            str(volts)], volts)
            checks[v] = float(np.max(np.abs(result.voltages - module_voltage) / np.abs(module_voltage)))
            assert checks[v] <= RTOL, f"native FMI {v}.0 module voltage departs from the twin's by {checks[v]:.3g}"

        pack_times, compiled_times, module_times = [first_s], [compiled_s], []
        c_times: dict[int, list[float]] = {2: [], 3: []}
        for r in range(ROUNDS):
            pack_times.append(pack_run(time_s, power)[0])
            compiled_times.append(pack_run(time_s, power, "compiled")[0])
            module_times.append(module_run()[0])
            if r < C_ROUNDS:
                for v in (2, 3):
                    result = run_c([str(host), unzipped[v], *fmu_arguments(native[v], "moduleVoltage"), str(profile),
                                    str(C_PASSES), str(C_REPEATS)])
                    c_times[v] += [s / C_PASSES for s in result.seconds]
            print(f"round {r + 1}/{ROUNDS}: pack {pack_times[-1]:.2f} s, compiled pack {compiled_times[-1]:.2f} s, "
                  f"module {module_times[-1]:.3f} s", flush=True)
        breakdown = pack_breakdown(time_s, power)

        peer: dict[str, Any] = {}
        peer_note = "skipped (--no-peer)"
        if with_peer:
            python, peer_note = peer_python()
            if python is not None:
                print(f"peer: {peer_note}; running liionpack ...", flush=True)
                t0 = time.perf_counter()
                peer = run_peer(python, current, tmp)
                peer_note += f"; its run took {time.perf_counter() - t0:.0f} s"
        ours = identical_split_check(current)
        echem = {model: echem_module_case(current, model) for model in ("SPM", "SPMe")}
        print(f"echem module: {echem}", flush=True)

    # ---- report ---------------------------------------------------------------------------------
    def rate(cells: int, seconds: float) -> float:
        return cells * n_steps / seconds

    pack_med, module_med = statistics.median(pack_times), statistics.median(module_times)
    compiled_med = statistics.median(compiled_times)
    c_med = {v: statistics.median(c_times[v]) for v in (2, 3)}
    rows = [
        ("**monolithic 96s4p pack, numpy (`PackTwin`)**", pack_cells, pack_med, min(pack_times), len(pack_times)),
        ("**monolithic 96s4p pack, compiled modules (`PackTwin(backend=\"compiled\")`)**", pack_cells, compiled_med,
         min(compiled_times), len(compiled_times)),
        ("12s4p module, numpy (`ModuleTwin`)", module_cells, module_med, min(module_times), len(module_times)),
        ("**12s4p native module FMU, FMI 2.0, C host**", module_cells, c_med[2], min(c_times[2]), len(c_times[2])),
        ("**12s4p native module FMU, FMI 3.0, C host**", module_cells, c_med[3], min(c_times[3]), len(c_times[3])),
    ]
    table = ["| case | cells | median wall time of the 1800-step run [s] | time per step [µs] | cell-steps/s (median) "
             "| fastest run [s] | runs |", "|---|---:|---:|---:|---:|---:|---:|"]
    for label, cells, med, best, runs in rows:
        table.append(f"| {label} | {cells} | {med:.3f} | {med / n_steps * 1e6:,.1f} | {rate(cells, med):,.0f} | "
                     f"{best:.3f} | {runs} |")
    peer_lines: list[str] = []
    models = peer.get("models", {})
    for model in PEER_MODELS:
        entry = models.get(model)
        if entry is None:
            peer_lines.append(f"| liionpack 96s4p, {model} | 384 | – | – | – | {peer.get('error', peer_note)} |")
        elif "error" in entry:
            peer_lines.append(f"| liionpack 96s4p, {model} | 384 | – | – | – | failed: {entry['error'][:200]} |")
        else:
            per = entry["wall_s"] / entry["cell_steps"]
            ours_vs = (f"PackTwin is {per * rate(pack_cells, pack_med):,.0f}x (numpy), "
                       f"{per * rate(pack_cells, compiled_med):,.0f}x (compiled) its rate" if model == "Thevenin" else "–")
            peer_lines.append(f"| liionpack 96s4p, {model} | 384 | {entry['wall_s']:.1f} s for {PEER_STEPS} steps | "
                              f"{per * 1e3:.3f} ms | {1 / per:,.0f} | {ours_vs} |")
    for model, entry in echem.items():
        per = entry["wall_s"] / entry["cell_steps"]
        peer_entry = models.get(model, {})
        versus = (f"{(peer_entry['wall_s'] / peer_entry['cell_steps']) / per:.1f}x liionpack's {model} rate"
                  if "wall_s" in peer_entry else "liionpack not measured")
        peer_lines.append(f"| fmutwin 12s4p `ModuleEchemTwin`, {model} (Chen2020) | 48 | {entry['wall_s']:.1f} s for "
                          f"{PEER_STEPS} steps (set-up {entry['setup_s']:.0f} s apart) | {per * 1e3:.3f} ms | "
                          f"{1 / per:,.0f} | {versus}; exact split: {entry['evaluations']:.2f} batched cell steps a "
                          f"step on average, residual <= {entry['residual_V']:.1e} V |")
    total_parts = breakdown["total"]
    parts = ", ".join(f"{name} {breakdown.get(key, 0.0):.2f} s ({breakdown.get(key, 0.0) / total_parts * 100:.0f} %)"
                      for key, name in (("cells", "cell equations (start, held tables, circuit evaluations, heat, "
                                                 "end of step)"),
                                        ("split", "the split's small linear solves (Newton and end of step)"),
                                        ("thermal", "thermal (banded solve of the cells' network with 10 right-hand "
                                                    "sides, the pack-thermal system)")))
    rest = total_parts - sum(breakdown.get(k, 0.0) for k in ("cells", "split", "thermal"))
    lag = peer.get("lag", {})
    thevenin = models.get("Thevenin", {})
    target_pack = "met" if pack_med < 5.0 else "**not met**"
    target_compiled = "met" if compiled_med < 5.0 else "**not met**"
    target_native = "met" if min(rate(module_cells, c_med[v]) for v in (2, 3)) >= 1e6 else "**not met**"
    per_peer = thevenin["wall_s"] / thevenin["cell_steps"] if "wall_s" in thevenin else None
    ratio = None if per_peer is None else per_peer * rate(pack_cells, compiled_med)
    ratio_numpy = None if per_peer is None else per_peer * rate(pack_cells, pack_med)
    spme, peer_spme = echem.get("SPMe", {}), models.get("SPMe", {})
    target_echem = ("not measured" if "wall_s" not in spme or "wall_s" not in peer_spme else
                    (lambda r: f"{'met' if r >= 1 else '**not met**'} ({r:.1f}x)")(
                        (peer_spme["wall_s"] / peer_spme["cell_steps"]) / (spme["wall_s"] / spme["cell_steps"])))
    target_peer = ("not measured" if ratio is None else
                   f"{'met' if ratio >= 100 else '**not met**'} by the compiled pack ({ratio:,.0f}x; the numpy pack "
                   f"{ratio_numpy:,.0f}x)")
    lines = [
        *machine_info(),
        f"- {gcc_version()}; native FMUs built by `fmutwin.fmi.native.build` (`gcc -O2`) in {build_s:.0f} s",
        f"- peer: {peer_note}"
        + (f"; versions {', '.join(f'{k} {v}' for k, v in peer['versions'].items())}" if "versions" in peer else ""),
        "",
        f"WLTC (`../shared/data/drive_cycles/WLTC.csv`, vehicle battery power, 0.1 s) averaged over each second: "
        f"{n_steps} steps of 1 s, {power.min() / 1e3:.1f}..{power.max() / 1e3:.1f} kW (positive = discharge). "
        "The pack converts power to current with its own voltage each step (`PackTwin.step_power`: current = "
        "power / pack voltage at the end of the previous step, at rest before the first), giving "
        f"{current.min():.1f}..{current.max():.1f} A; the delivered power (step-mean voltage x current) differs "
        f"from the demand by at most {power_error:.1f} W (the voltage's change within a step). That current is "
        "every other case's input (the modules are in series). Coolant 0.1 kg/s at 298.15 K, ambient 298.15 K; "
        "the pack's cells start at SOC 0.5 with the shipped module's 2 % capacity and 5 % R0 variation drawn over "
        "the pack. A numpy run is one whole cycle on a fresh twin (set-up untimed, `time.perf_counter`); a C run "
        f"is {C_PASSES} passes of the cycle in `native_bench_host.c` (state restored between passes, untimed), "
        "divided by the passes. The native FMUs' `moduleVoltage` equals the numpy twin's within "
        f"{max(checks.values()):.1e} (relative) at every step before timing.",
        "",
        *table,
        "",
        "Peer (same pack size, its own circuit: 96 series groups of 4, Rb = 0.1 mOhm, Rc = 10 mOhm; the first "
        f"{PEER_STEPS} steps of the same current; wall time of `lp.solve`, set-up included), and fmutwin's module "
        "of PyBaMM cells on the same cells and current (12s4p, tab 1 mOhm, busbar 0.1 mOhm, 2 % capacity variation; "
        "the cell step is ROS2 with 2 substeps, within 0.08 mV of IDAKLU at 1e-10, see docs/module.md):",
        "",
        "| case | cells | wall time | time per cell-step | cell-steps/s | note |",
        "|---|---:|---:|---:|---:|---|",
        *peer_lines,
        "",
        f"- where the pack's time goes (one instrumented run, {total_parts:.2f} s with the timers): {parts}; "
        f"the rest, {rest:.2f} s ({rest / total_parts * 100:.0f} %), is the split's bookkeeping (residuals, "
        "Jacobian entries, group sums), the end-of-step split, outputs, input and result checks, and the power "
        "conversion. The split stops once every residual is below 1e-11 V: on this cycle mostly after one Newton "
        "iteration, i.e. two circuit evaluations a step.",
    ]
    if lag and "error" not in lag:
        lines.append(
            f"- the peer's one-step lag (4 identical Thevenin cells in parallel, Rb = Rc = 1 uOhm, "
            f"{lag['rows']} steps, currents to {lag['current_peak_A']:.0f} A): its cell currents depart from the "
            f"even split by up to {lag['split_max_deviation_A']:.3f} A, and its cell voltages match a standalone "
            f"PyBaMM cell at I/4 at {lag['voltage_rms_shifted_V'] * 1e3:.3f} mV RMS only when shifted by one step "
            f"({lag['voltage_rms_unshifted_V'] * 1e3:.2f} mV as recorded). fmutwin on the same check (4 identical "
            f"cells, no interconnects, against `CellECMTwin` at I/4, every step): currents within "
            f"{ours['current_A']:.1e} A of the even split, voltages within {ours['voltage_V']:.1e} V.")
    elif lag:
        lines.append(f"- the peer's lag check failed: {lag['error'][:300]}")
    lines += [
        f"- targets: the monolithic 96s4p WLTC run under 5 s: numpy {target_pack} (median {pack_med:.2f} s, fastest "
        f"{min(pack_times):.2f} s), compiled {target_compiled} (median {compiled_med:.2f} s); the native module FMU at least 1e6 cell-steps/s in the C host: {target_native}; "
        f"at least 100x liionpack's cell-step rate with the same ECM cells: {target_peer}; the module of SPMe "
        f"cells at least liionpack's SPMe cell-step rate: {target_echem}.",
        f"- whole run took {time.perf_counter() - t_start:.0f} s.",
        "",
        "Re-run: `python benchmarks/bench_pack.py` (`--no-peer` skips liionpack; `FMUTWIN_PEER_VENV` names the "
        "peer environment).",
    ]
    update_results_section(SECTION, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    run_then_exit(main)
