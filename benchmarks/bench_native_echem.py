"""Native electrochemical FMUs (PyBaMM SPM and SPMe generated as C) against PyBaMM's own solves
and the Python CellEchem FMU, in one run: speed, accuracy and build time.

US06 at scale 1.0 (-4.2..8.1 A on the 5 Ah Chen2020 cell) from SOC 0.7, ``current[k]`` held over
``[t_k, t_k+1]``, 600 steps of 1 s. Accuracy of every case: voltage RMS and max against PyBaMM's
IDAKLU at rtol = atol = 1e-10 stepped with the same piecewise-constant current
(``CellEchemTwin``). Cases per model:

* native, C host: ``benchmarks/native_bench_host.c`` (gcc -O2) dlopens the unzipped FMU and
  loops set current -> doStep -> get batteryVoltage (FMI 2.0; SPMe in FMI 3.0 too, and with
  SDIRK2 instead of the default Radau IIA), with an empty environment; 5 repeats of 3 passes;
* native, fmpy: the same FMU through fmpy's ``FMU2Slave`` in this process;
* PyBaMM stepped: ``CellEchemTwin.step`` at its default tolerances (rtol 1e-6, atol 1e-8);
* PyBaMM whole cycle: one ``IDAKLUSolver.solve`` over the 600 s, same tolerances, the current a
  ``Floor`` interpolant with ``t_eval`` at every current change (``bench_cell_echem``);
* Python FMU (SPMe): ``CellEchem_fmi2.fmu`` through fmpy.

The native FMUs are built from cell files with ``fmutwin.registry.twin_for_file`` and
``build_native`` (as ``fmutwin build --parameters FILE --native``), each build timed. Results
go to the "## Native electrochemical FMUs" section of benchmarks/RESULTS.md. Usage: ``python
benchmarks/bench_native_echem.py`` (about 3 minutes). Ends with ``os._exit`` (pythonfmu).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import fmpy
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_cell_echem import FmuCase, TwinCase, WholeCycleCase  # noqa: E402
from bench_cell_twin import _version, machine_info, update_results_section  # noqa: E402
from bench_common import run_then_exit  # noqa: E402
from bench_native import CFLAGS, HOST_SOURCE, FmpyCase, compile_c, fmu_arguments, gcc_version, run_c, sample  # noqa: E402

from fmutwin.data import drive_cycle  # noqa: E402
from fmutwin.twins.cell_echem import CellEchemTwin  # noqa: E402

SECTION = "## Native electrochemical FMUs"
MODELS = ("SPM", "SPMe")
INITIAL_SOC = 0.7
REPEATS = 5
C_PASSES = 3


def _reference(model: str, currents: list[float]) -> np.ndarray:
    cell = CellEchemTwin(model=model, initial_soc=INITIAL_SOC, rtol=1e-10, atol=1e-10)
    return np.array([cell.step(current_A=i, dt_s=1.0)["voltage_V"][0] for i in currents])


def _error_mV(voltages: list | np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    e = (np.asarray(voltages, dtype=float).ravel()[:len(ref)] - ref) * 1e3
    return float(np.sqrt(np.mean(e ** 2))), float(np.max(np.abs(e)))


def main() -> None:
    from fmutwin.fmi.build import build_python_fmu
    from fmutwin.fmi.native.build import build_native
    from fmutwin.params.cell_echem import EchemCellParameters
    from fmutwin.registry import twin, twin_for_file

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    t_start = time.perf_counter()
    time_s, current = drive_cycle("US06", scale=1.0)
    currents = [float(i) for i in current[:-1]]
    n = len(currents)
    rows: list[tuple[str, str, float, tuple[float, float]]] = []  # model, case, us per step, error
    builds: list[str] = []
    speed: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="fmutwin_bench_native_echem_") as tmp:
        tmp_dir = Path(tmp)
        host = tmp_dir / "native_bench_host"
        compile_c(["-I", str(HERE.parent / "tests" / "fmi" / "c_host"), str(HOST_SOURCE), "-ldl"], host)
        profile = tmp_dir / "us06.txt"
        np.savetxt(profile, currents)
        python_fmu = build_python_fmu(twin("cell_echem"), 2, tmp_dir / "python", runner="in-process")
        for model in MODELS:
            ref = _reference(model, currents)
            path = tmp_dir / f"{model}.json"
            EchemCellParameters(name=f"chen2020_{model.lower()}", model=model, initial_soc=INITIAL_SOC).save(path)
            entry = twin_for_file(path)
            fmus = {}
            for version in ((2, 3) if model == "SPMe" else (2,)):
                t0 = time.perf_counter()
                fmus[version] = build_native(entry, tmp_dir / model, version)
                builds.append(f"{model} FMI {version}.0 {time.perf_counter() - t0:.1f} s")
            if model == "SPMe":  # the faster, less accurate scheme
                other = tmp_dir / "sdirk2.json"
                EchemCellParameters(name="chen2020_spme_sdirk2", model=model, initial_soc=INITIAL_SOC,
                                    scheme="sdirk2", substeps=2).save(other)
                fmus["sdirk2"] = build_native(twin_for_file(other), tmp_dir / "sdirk2", 2)
            for version, fmu in fmus.items():
                unzipped = tmp_dir / f"{model}_{version}"
                fmpy.extract(str(fmu), str(unzipped))
                out = tmp_dir / f"{model}_{version}_v.txt"
                result = run_c([str(host), str(unzipped), *fmu_arguments(fmu), str(profile), str(C_PASSES),
                                str(REPEATS), str(out)], out)
                us = statistics.median(result.seconds) / result.steps_per_repeat * 1e6
                label = "native FMI 2.0 SDIRK2 (2 substeps), C host" if version == "sdirk2" else \
                    f"native FMI {version}.0, C host"
                rows.append((model, label, us, _error_mV(result.voltages, ref)))
                speed[(model, f"c{version}")] = us
            cases = {"native FMI 2.0, fmpy": FmpyCase(fmus[2], currents, tmp_dir / f"{model}_fmpy"),
                     "PyBaMM stepped (rtol 1e-6)": TwinCase(model, currents),
                     "PyBaMM whole cycle (rtol 1e-6)": WholeCycleCase(model, time_s, currents),
                     "PyBaMM whole cycle (its defaults, rtol 1e-4)": WholeCycleCase(model, time_s, currents,
                                                                                    1e-4, 1e-6)}
            if model == "SPMe":
                cases["Python FMU (CellEchem, fmpy)"] = FmuCase(python_fmu, model, currents, tmp_dir / "pyfmu")
            times: dict[str, list[float]] = {k: [] for k in cases}
            traces: dict[str, list] = {}
            for label, case in cases.items():  # warm-up, recorded for the accuracy
                traces[label] = []
                if isinstance(case, FmpyCase):
                    sample(case.prepare, 1, traces[label])
                else:
                    case.run(traces[label])
            for _ in range(REPEATS):
                for label, case in cases.items():
                    times[label].append(sample(case.prepare, 1)[0] if isinstance(case, FmpyCase) else case.run())
            for label, case in cases.items():
                voltages = [v[0] if isinstance(v, (list, tuple, np.ndarray)) else v for v in traces[label]]
                us = statistics.median(times[label]) / n * 1e6
                rows.append((model, label, us, _error_mV(voltages, ref)))
                speed[(model, label)] = us
                if hasattr(case, "close_all"):
                    case.close_all()
            print(f"{model} done ({time.perf_counter() - t_start:.0f} s)", flush=True)

    whole = speed[("SPMe", "PyBaMM whole cycle (rtol 1e-6)")]
    whole_default = speed[("SPMe", "PyBaMM whole cycle (its defaults, rtol 1e-4)")]
    errors = {(m, label): err for m, label, _, err in rows}
    lines = [SECTION, "", *machine_info(),
             f"- gcc: {gcc_version()} ({' '.join(CFLAGS)} for the host; the FMU binary -O2)",
             f"- casadi {_version('casadi')}, pybamm {_version('pybamm')}, fmpy {_version('fmpy')}",
             "- Chen2020, isothermal, PyBaMM's default mesh; native scheme Radau IIA, one step per 1 s step, one "
             "simplified-Newton iteration (the shipped `cell_echem_spme.json` settings), and SDIRK2 with 2 substeps",
             f"- US06 scale 1.0 from SOC {INITIAL_SOC}, {n} steps of 1 s; error: voltage against PyBaMM's IDAKLU at "
             "rtol = atol = 1e-10 with the same piecewise-constant current; medians of "
             f"{REPEATS} runs (C host: {REPEATS} repeats of {C_PASSES} passes)",
             "", "| model | case | us per step | steps/s | error RMS / max [mV] |", "|---|---|---|---|---|"]
    for model, label, us, (rms, worst) in rows:
        lines.append(f"| {model} | {label} | {us:.1f} | {1e6 / us:,.0f} | {rms:.5f} / {worst:.5f} |")
    radau = errors[("SPMe", "native FMI 2.0, C host")][0]
    sdirk = errors[("SPMe", "native FMI 2.0 SDIRK2 (2 substeps), C host")][0]
    lines += ["", "- SPMe, native in the C host against PyBaMM's whole-cycle solve at equal or better accuracy "
              f"(target 20x): the default Radau IIA ({radau:.5f} mV RMS) {whole / speed[('SPMe', 'c2')]:.0f}x faster "
              f"per step than PyBaMM at rtol 1e-6 ({errors[('SPMe', 'PyBaMM whole cycle (rtol 1e-6)')][0]:.5f} mV), "
              f"{1e6 / speed[('SPMe', 'c2')]:,.0f} steps/s (target 10,000); SDIRK2 ({sdirk:.5f} mV) "
              f"{whole_default / speed[('SPMe', 'csdirk2')]:.0f}x faster than PyBaMM at its default tolerances "
              f"({errors[('SPMe', 'PyBaMM whole cycle (its defaults, rtol 1e-4)')][0]:.5f} mV)",
              f"- build times (PyBaMM discretisation, CasADi code generation, gcc -O2; one process, PyBaMM "
              f"imported by the first): {', '.join(builds)}",
              f"- wall time of this benchmark: {time.perf_counter() - t_start:.0f} s", ""]
    update_results_section(SECTION, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    run_then_exit(main)
