"""The BMS's SoC estimators on an electrochemical plant, and the speed of the BMS FMUs.

Accuracy: the plant is PyBaMM's DFN (Chen2020 scaled to the flagship's 50 Ah cell: the reduction
configuration's parameter overrides, isothermal) over UDDS, US06 and WLTC (WLTC: its power
profile's shape as a current) peaking at 2C, at 25 degC, and UDDS at 15 and 35 degC, from SoC 0.8.
The estimators' model is the ECM ``fmutwin reduce`` fitted to that DFN (the flagship cell file,
``params/data/chen2020_dfn_50Ah.json``), never the plant's own model. Measurements: 10 mV voltage
noise and 50 mA current noise; "with bias" adds a 0.5 % current gain error and a 0.1 A offset.
Every filter (EKF, UKF, adaptive) starts from SoC 0.6 (20 % off); coulomb counting runs beside
them from the same guess. Reported per case: SoC RMS and max error after the first 300 s, and the
time after which the error stays within 2 %.

Speed: steps per second of one BMS step (the FMU's ``doStep`` with its inputs set and SoC read)
of the Python FMU, the native FMU and the numpy twin, for the one-element BMS of the accuracy runs
and the flagship's 96 elements, in one run (medians over 300 steps of a UDDS-like current, after
20 warm-up steps).

Results go to the "## BMS estimators" section of benchmarks/RESULTS.md.
Usage: ``python benchmarks/bench_bms.py`` (about 10 minutes).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_cell_twin import machine_info, update_results_section  # noqa: E402  (adds src/ if needed)
from bench_common import FmpyInstances, run_then_exit  # noqa: E402

CASES = [("UDDS", 298.15), ("US06", 298.15), ("WLTC", 298.15), ("UDDS", 288.15), ("UDDS", 308.15)]
METHODS = ["ekf", "ukf", "adaptive"]
CAPACITY_AH = 50.0


def cycle_current(name: str) -> np.ndarray:
    """The cycle's current [A, positive = discharge] peaking at 2C of the 50 Ah cell."""
    from fmutwin.data import drive_cycle, power_per_second

    _, shape = power_per_second("WLTC") if name == "WLTC" else drive_cycle(name)
    return shape / np.max(np.abs(shape)) * 2.0 * CAPACITY_AH


def plant_run(name: str, temperature_K: float) -> dict[str, np.ndarray]:
    """The DFN plant's true SoC and voltage over the cycle."""
    from fmutwin.params import flagship
    from fmutwin.twins.cell_echem import CellEchemTwin

    config = flagship.flagship_cell().provenance["config"]
    current = cycle_current(name)
    dfn = CellEchemTwin(config["model"], config["parameter_set"], initial_soc=0.8, ambient_temperature_K=temperature_K,
                        parameter_overrides=config["parameter_overrides"])
    out = dfn.run(np.arange(len(current) + 1.0), current)
    return {"current": current, "voltage": out["voltage_V"], "soc": out["soc"]}


def estimate(plant: dict[str, np.ndarray], temperature_K: float, method: str, bias: bool, seed: int) -> dict:
    from fmutwin.params import flagship
    from fmutwin.params.bms import BmsParameters
    from fmutwin.twins.bms import BmsTwin

    rng = np.random.default_rng(seed)
    current = plant["current"] + rng.normal(0.0, 0.05, plant["current"].shape)
    if bias:
        current = current * 1.005 + 0.1
    voltage = plant["voltage"] + rng.normal(0.0, 0.01, plant["voltage"].shape)
    cell = flagship.flagship_cell()
    params = BmsParameters(name="bench", cell=cell, n_series=1, estimator={"initial_soc": 0.6, "method": method})
    n = len(current)
    out = BmsTwin(params).run(np.arange(n + 1.0), current, voltage[:, None], np.full((n, 1), temperature_K))
    rows = len(out["time_s"])
    return {"filter": np.reshape(out["soc"], (rows, -1))[:, 0] - plant["soc"],
            "coulomb": np.reshape(out["soc_coulomb_counting"], (rows, -1))[:, 0] - plant["soc"], "time_s": out["time_s"]}


def scores(error: np.ndarray, time_s: np.ndarray) -> tuple[float, float, float]:
    """(RMS and max |error| after 300 s [%], time after which |error| stays within 2 % [s])."""
    after = time_s > 300
    outside = np.flatnonzero(np.abs(error) > 0.02)
    settled = float(time_s[outside[-1]]) if outside.size else 0.0
    return 100 * float(np.sqrt(np.mean(error[after] ** 2))), 100 * float(np.abs(error[after]).max()), settled


def bms_file(n_series: int, folder: Path) -> Path:
    """A BMS file of ``n_series`` elements of the flagship cell (EKF, from SoC 0.6)."""
    from fmutwin.params import flagship
    from fmutwin.params.bms import BmsParameters

    cell = flagship.flagship_cell()
    params = BmsParameters(name=f"bench_{n_series}s", cell=cell, n_series=n_series, n_parallel=4 if n_series > 1 else 1,
                           estimator={"initial_soc": 0.6})
    path = folder / f"bms_{n_series}s.json"
    params.save(path)
    return path


def step_rates(n_series: int, folder: Path) -> dict[str, float]:
    """Steps per second (medians) of the Python FMU, the native FMU and the numpy twin."""
    from fmutwin.fmi.build import build_python_fmu
    from fmutwin.fmi.native.build import build_native
    from fmutwin.params.bms import BmsParameters
    from fmutwin.registry import TWINS
    from fmutwin.twins.bms import BmsTwin

    path = bms_file(n_series, folder)
    export = dataclasses.replace(TWINS["bms"], parameter_file=lambda: path)
    out = folder / f"fmus_{n_series}"
    fmus = {"Python FMU": build_python_fmu(export, 3, out, runner="in-process"), "native FMU": build_native(export, out, 3)}
    current = 0.5 * cycle_current("UDDS")[:320] * (4 if n_series > 1 else 1)
    voltage = 3.7 + 0.02 * np.sin(np.arange(320) / 30.0)
    rates = {}
    for kind, fmu_path in fmus.items():
        instances = FmpyInstances(fmu_path, folder / f"unzip_{kind[0]}_{n_series}")
        fmu, set_real, get_real = instances.open()
        vr = instances.vrs
        times = []
        for k in range(320):
            t0 = time.perf_counter()
            set_real([vr["elementVoltage"]], [voltage[k]] * n_series)
            set_real([vr["packCurrent"]], [float(current[k])])
            fmu.doStep(currentCommunicationPoint=float(k), communicationStepSize=1.0)
            get_real([vr["soc"]], nValues=n_series)
            times.append(time.perf_counter() - t0)
        instances.close_all()
        rates[kind] = 1.0 / float(np.median(times[20:]))
    twin = BmsTwin(BmsParameters.load(path))
    times = []
    for k in range(320):
        t0 = time.perf_counter()
        twin.step(np.full(n_series, voltage[k]), 298.15, float(current[k]), 1.0)
        times.append(time.perf_counter() - t0)
    rates["numpy twin"] = 1.0 / float(np.median(times[20:]))
    return rates


def main() -> None:
    rows = []
    for c, (name, temperature) in enumerate(CASES):
        plant = plant_run(name, temperature)
        for bias in (False, True):
            runs = {m: estimate(plant, temperature, m, bias, seed=10 * c + bias) for m in METHODS}
            label = f"{name} {temperature - 273.15:.0f} degC{', bias' if bias else ''}"
            cc = scores(runs["ekf"]["coulomb"], runs["ekf"]["time_s"])
            cells = [f"{rms:.2f} / {peak:.2f} / {settled:.0f}" for rms, peak, settled in
                     (scores(runs[m]["filter"], runs[m]["time_s"]) for m in METHODS)]
            rows.append(f"| {label} | {' | '.join(cells)} | {cc[0]:.1f} / {cc[1]:.1f} |")
            print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        speed = {n: step_rates(n, Path(tmp)) for n in (1, 96)}
    kinds = ["Python FMU", "native FMU", "numpy twin"]
    speed_rows = [f"| {n} | " + " | ".join(f"{speed[n][k]:,.0f}" for k in kinds)
                  + f" | {speed[n]['native FMU'] / speed[n]['Python FMU']:.0f}x |" for n in speed]
    body = "\n".join([
        "`python benchmarks/bench_bms.py`: " + __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        *machine_info(),
        "",
        "SoC error [%]: RMS after 300 s / max after 300 s / within 2 % from [s]; coulomb counting: RMS / max after "
        "300 s (from the same 20 % error).",
        "",
        "| plant cycle | EKF | UKF | adaptive (EKF with R0) | coulomb counting |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Steps per second of one BMS step (FMU: inputs set, `doStep`, SoC read; medians over 300 steps after 20 "
        "warm-up steps), FMI 3.0, EKF:",
        "",
        "| series elements | Python FMU | native FMU | numpy twin | native vs Python FMU |",
        "|---|---|---|---|---|",
        *speed_rows,
    ])
    update_results_section("## BMS estimators", body)
    print(body)


if __name__ == "__main__":
    run_then_exit(main)
