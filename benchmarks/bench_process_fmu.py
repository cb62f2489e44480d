"""Out-of-process Python FMUs against the in-process ones, in one run: per-step overhead, the
stepped SPMe FMU against PyBaMM's whole-cycle solve, start-up, and two instances in parallel.

Cases (fmpy's FMU2Slave in this process, FMI 2.0, US06 600 steps of 1 s; per step ``setReal
current``, ``doStep``, ``getReal batteryVoltage, stateOfCharge``):

* cell ECM FMU (default 100 Ah cell, US06 x10), in process (pythonfmu's binary) and out of process
  (fmutwin's proxy + one worker process): time per step, and the difference = what the
  out-of-process path adds per step (one socket round trip: the setting goes without waiting for
  its answer, the outputs read come with the step's answer);
* the floor of that: one round trip of 16 bytes between two Python processes over a Unix socket
  pair (this process and a forked child), blocking and with the receiver polling first as the
  worker does;
* electrochemical SPMe FMU (Chen2020, US06 x1 from SOC 0.7), both runners, against one
  ``IDAKLUSolver.solve`` of the whole cycle (``bench_cell_echem.WholeCycleCase``, same model,
  tolerances and current steps) measured in the same rounds;
* start-up: instantiate + initialise of a fresh instance (the worker imports numpy, PyBaMM, ...);
* two SPMe instances over US06, one after the other vs from two threads at once (fmpy's ctypes
  calls release the GIL, so two workers compute at the same time on two cores; in process they
  share the interpreter and its GIL).

REPEATS rounds with the cases interleaved; medians. Results go to the "## Out-of-process Python
FMUs" section of benchmarks/RESULTS.md. Usage: ``python benchmarks/bench_process_fmu.py`` (about
2 minutes). Ends with ``os._exit`` (pythonfmu's in-process binary can crash at process exit).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_cell_echem import WholeCycleCase  # noqa: E402
from bench_cell_twin import machine_info, update_results_section  # noqa: E402
from bench_common import FmpyInstances, run_then_exit, us06_steps  # noqa: E402

from fmutwin.data import drive_cycle  # noqa: E402
from fmutwin.fmi.build import build_python_fmu  # noqa: E402
from fmutwin.registry import twin  # noqa: E402

REPEATS = 5
RUNNERS = ("in-process", "process")


def _run(opened: tuple, currents: list[float], vr_in: list[int], vr_out: list[int]) -> None:
    """Step one open instance over ``currents`` (set input, step, get outputs)."""
    fmu, set_real, get_real = opened
    t = 0.0
    for current in currents:
        set_real(vr_in, [current])
        fmu.doStep(currentCommunicationPoint=t, communicationStepSize=1.0)
        get_real(vr_out)
        t += 1.0


def _references(instances: FmpyInstances) -> tuple[list[int], list[int]]:
    return [instances.vrs["current"]], [instances.vrs["batteryVoltage"], instances.vrs["stateOfCharge"]]


def _steps(instances: FmpyInstances, currents: list[float], reals: dict[str, float],
           strings: dict[str, str] | None = None) -> tuple[float, float]:
    """(start-up s, stepping s) of one fresh instance over ``currents``."""
    t0 = time.perf_counter()
    opened = instances.open(reals, strings)
    t1 = time.perf_counter()
    _run(opened, currents, *_references(instances))
    t2 = time.perf_counter()
    instances.close(opened[0])
    return t1 - t0, t2 - t1


def _two_instances(instances: FmpyInstances, currents: list[float], reals: dict[str, float],
                   strings: dict[str, str], threaded: bool) -> float:
    """Seconds to step two fresh instances over ``currents``: one after the other, or from two
    threads at once."""
    opened = [instances.open(reals, strings) for _ in range(2)]
    refs = _references(instances)
    start = time.perf_counter()
    if threaded:
        threads = [threading.Thread(target=_run, args=(o, currents, *refs)) for o in opened]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for o in opened:
            _run(o, currents, *refs)
    wall = time.perf_counter() - start
    for o in opened:
        instances.close(o[0])
    return wall


def socket_round_trip_us(spin_s: float, n: int = 3000) -> float:
    """Median over 3 runs of one 16-byte request and answer between this process and a forked
    child over a socket pair; the child polls ``spin_s`` before it blocks (as the worker)."""
    import os
    import socket

    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the child: echo until the socket closes
        ours.close()
        while True:
            deadline = time.perf_counter() + spin_s
            while True:
                try:
                    message = theirs.recv(64, socket.MSG_DONTWAIT)
                    break
                except BlockingIOError:
                    if time.perf_counter() >= deadline:
                        message = theirs.recv(64)
                        break
            if not message:
                os._exit(0)
            theirs.sendall(message)
    theirs.close()
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            ours.sendall(b"x" * 16)
            ours.recv(64)
        runs.append((time.perf_counter() - start) / n * 1e6)
    ours.close()
    os.waitpid(pid, 0)
    return statistics.median(runs)


def main() -> None:
    ecm_currents = us06_steps(10.0)
    echem_currents = us06_steps(1.0)
    time_s, _ = drive_cycle("US06", scale=1.0)
    n = len(ecm_currents)
    with tempfile.TemporaryDirectory(prefix="bench_process_") as tmp:
        tmp_dir = Path(tmp)
        ecm = {r: FmpyInstances(build_python_fmu(twin("cell_ecm"), 2, tmp_dir / r, runner=r), tmp_dir / f"x_ecm_{r}")
               for r in RUNNERS}
        echem = {r: FmpyInstances(build_python_fmu(twin("cell_echem"), 2, tmp_dir / r, runner=r),
                                  tmp_dir / f"x_echem_{r}") for r in RUNNERS}
        whole = WholeCycleCase("SPMe", time_s, echem_currents)
        echem_start = {"initialSoc": 0.7}
        strings = {"model": "SPMe"}
        for r in RUNNERS:  # warm-up (imports, caches)
            _steps(ecm[r], ecm_currents, {})
            _steps(echem[r], echem_currents, echem_start, strings)
        whole.run()
        rows: dict[str, list[float]] = {k: [] for k in (
            "ecm_step_in", "ecm_step_out", "ecm_start_in", "ecm_start_out", "echem_in", "echem_out", "echem_start_in",
            "echem_start_out", "whole", "ratio_in", "ratio_out", "two_seq_out", "two_par_out", "two_seq_in",
            "two_par_in")}
        for _ in range(REPEATS):
            for r, key in (("in-process", "in"), ("process", "out")):
                start_s, step_s = _steps(ecm[r], ecm_currents, {})
                rows[f"ecm_start_{key}"].append(start_s)
                rows[f"ecm_step_{key}"].append(step_s / n)
                start_s, step_s = _steps(echem[r], echem_currents, echem_start, strings)
                rows[f"echem_start_{key}"].append(start_s)
                rows[f"echem_{key}"].append(step_s)
            wall = whole.run()
            rows["whole"].append(wall)
            rows["ratio_in"].append(rows["echem_in"][-1] / wall)
            rows["ratio_out"].append(rows["echem_out"][-1] / wall)
            for r, key in (("in-process", "in"), ("process", "out")):
                rows[f"two_seq_{key}"].append(_two_instances(echem[r], echem_currents, echem_start, strings, False))
                rows[f"two_par_{key}"].append(_two_instances(echem[r], echem_currents, echem_start, strings, True))
        for group in (ecm, echem):
            for instances in group.values():
                instances.close_all()
    med = {k: statistics.median(v) for k, v in rows.items()}
    floor_blocking, floor_polling = socket_round_trip_us(0.0), socket_round_trip_us(200e-6)
    us = 1e6
    added = (med["ecm_step_out"] - med["ecm_step_in"]) * us
    body = "\n".join([
        *machine_info(),
        f"- {REPEATS} rounds, cases interleaved; medians. fmpy `FMU2Slave` in this process, FMI 2.0, US06 "
        f"{n} steps of 1 s; per step `setReal current`, `doStep`, `getReal batteryVoltage, stateOfCharge`.",
        "",
        "| case | in process (pythonfmu) | out of process (proxy + worker) |",
        "|---|---|---|",
        f"| cell ECM FMU, per step (set, step, get) | {med['ecm_step_in'] * us:.1f} us | "
        f"{med['ecm_step_out'] * us:.1f} us |",
        f"| cell ECM FMU, instantiate + initialise | {med['ecm_start_in'] * 1e3:.0f} ms | "
        f"{med['ecm_start_out'] * 1e3:.0f} ms |",
        f"| SPMe FMU, US06 ({n} steps) | {med['echem_in']:.3f} s | {med['echem_out']:.3f} s |",
        f"| SPMe FMU / PyBaMM whole-cycle solve ({med['whole']:.3f} s) | {statistics.median(rows['ratio_in']):.2f}x | "
        f"{statistics.median(rows['ratio_out']):.2f}x |",
        f"| SPMe FMU, instantiate + initialise | {med['echem_start_in']:.2f} s | {med['echem_start_out']:.2f} s |",
        f"| two SPMe instances over US06, one after the other | {med['two_seq_in']:.3f} s | "
        f"{med['two_seq_out']:.3f} s |",
        f"| two SPMe instances over US06, from two threads | {med['two_par_in']:.3f} s | {med['two_par_out']:.3f} s |",
        f"| speed-up of two threads | {med['two_seq_in'] / med['two_par_in']:.2f}x | "
        f"{med['two_seq_out'] / med['two_par_out']:.2f}x |",
        "",
        f"Added per step by the out-of-process path: {added:.1f} us for the ECM FMU, "
        f"{(med['echem_out'] - med['echem_in']) / n * us:.1f} us for the SPMe FMU (target: under 30 us). One "
        "socket round trip per step is left (the setting goes without waiting, the outputs come with the step's "
        "answer); its floor on this machine, measured in this run between two Python processes: "
        f"{floor_blocking:.1f} us blocking, {floor_polling:.1f} us with the receiver polling first (as the worker "
        "does for 200 us). The rest of the difference is the worker's own step running slower than the same "
        "Python in the host's process (measured inside the worker while developing: 470-590 us against about "
        "455 us for the ECM step); it varies from run to run on this machine by more than the target. Anchor: "
        "libcosim's proxyfmu is reported 15x slower than in-process. The SPMe FMU out of process: "
        f"{statistics.median(rows['ratio_out']):.2f}x PyBaMM's whole-cycle solve (target 1.5x).",
    ])
    update_results_section("## Out-of-process Python FMUs", body)
    print(body)


if __name__ == "__main__":
    run_then_exit(main)
