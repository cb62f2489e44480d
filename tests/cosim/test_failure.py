"""A run that fails part-way: the master names the component, time and message, every row up to
the failure is on disk (CSV and Parquet), also when the process is killed; and the flagship system
(FMI 2.0 and 3.0, Python and native FMUs) runs with the load's arithmetic checked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fmutwin.cosim import CosimError, Event, Execution, FileWriter, InputSource, Override, read_results
from fmutwin.pack_cosim import pack_system


def _modules_and_thermal(pack_fmus, pack):
    return pack_system(pack_fmus, pack, with_bms=False, with_load=False)


def test_a_failing_component_stops_the_run_and_keeps_every_row(pack_fmus, pack, tmp_path):
    system = _modules_and_thermal(pack_fmus, pack)
    currents = [Override(f"module{m + 1}.current", 50.0) for m in range(pack.n_modules)]
    fault = Event(inputs={"module3.current": 1e7}, time_s=20.0, name="an impossible current")
    writers = [FileWriter(tmp_path / "run.csv", ["module3.moduleVoltage", "thermal.plateTemperature"]),
               FileWriter(tmp_path / "run.parquet", ["module3.moduleVoltage"], rows_per_part=7)]
    ex = Execution(system, manipulators=[*currents, fault], observers=writers)
    with pytest.raises(CosimError) as info:
        ex.run(stop_s=100.0, step_s=1.0)
    err = info.value
    assert err.component == "module3" and err.time_s == 20.0
    assert "component 'module3': doStep failed at t = 20 s" in str(err) and "current" in str(err)
    assert np.array_equal(err.partial["time"], np.arange(0.0, 21.0))  # t = 0 .. 20, the last completed step
    csv = read_results(tmp_path / "run.csv")
    assert np.array_equal(csv["time"], np.arange(0.0, 21.0))
    assert np.allclose(csv["module3.moduleVoltage"], err.partial["module3.moduleVoltage"], rtol=0, atol=1e-12)
    assert len(csv) == 1 + 1 + 8  # time, the module voltage, 8 plate temperatures
    parquet = read_results(tmp_path / "run.parquet")
    assert np.array_equal(parquet["time"], np.arange(0.0, 21.0))  # the last, partial part written on close
    assert (tmp_path / "run.csv.meta.json").is_file()


def test_a_killed_run_keeps_its_rows(pack_fmus, pack, tmp_path):
    """The streamed CSV of a run killed with SIGKILL holds every row up to the kill, complete."""
    from fmutwin.cosim import save

    save(_modules_and_thermal(pack_fmus, pack), tmp_path / "pack.ssd")
    script = tmp_path / "run.py"
    script.write_text(
        "from fmutwin.cosim import Execution, FileWriter, Override, load\n"
        f"s = load({str(tmp_path / 'pack.ssd')!r})\n"
        f"w = FileWriter({str(tmp_path / 'killed.csv')!r}, ['module1.moduleVoltage', 'thermal.outletTemperature'])\n"
        f"m = [Override(f'module{{k + 1}}.current', 20.0) for k in range({pack.n_modules})]\n"
        "Execution(s, manipulators=m, observers=[w]).run(stop_s=1e7, step_s=1.0)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    path = tmp_path / "killed.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not path.is_file() or path.read_text().count("\n") < 30):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    lines = path.read_text().splitlines()
    assert len(lines) >= 30, proc.stderr.read().decode()
    rows = [line for line in lines if line.count(",") == 2]
    assert len(rows) >= len(lines) - 1  # at most the row being written is incomplete
    times = np.array([float(r.split(",")[0]) for r in rows[1:]])
    assert np.array_equal(times, np.arange(len(times)))


def test_the_flagship_system_runs_its_load_and_bms(pack_fmus, pack):
    """FMI 2.0 and 3.0, Python and native in one system: the load's current is the demand over the
    sum of the module voltages at the step's start, every module carries it, the BMS reads it."""
    from fmutwin.data import power_per_second

    system = pack_system(pack_fmus, pack)
    seconds, power = power_per_second("WLTC")
    ex = Execution(system, manipulators=[InputSource("load.powerDemand", seconds[:-1], power)])
    r = ex.run(stop_s=40.0, step_s=1.0)
    v_start = sum(r[f"module{m + 1}.moduleVoltage"] for m in range(pack.n_modules))[:-1]
    assert np.allclose(r["load.packVoltage"][1:], v_start, rtol=1e-12, atol=0)
    limits = (-r["bms.chargeCurrentLimit"][:-1], r["bms.dischargeCurrentLimit"][:-1])
    assert np.allclose(r["load.current"][1:], np.clip(power[:40] / v_start, *limits), rtol=1e-12, atol=1e-12)
    assert np.any(power[:40] != 0)
    for m in range(pack.n_modules):
        assert np.allclose(r[f"module{m + 1}.moduleCurrent"][1:], r["load.current"][1:], rtol=0, atol=1e-9)
    assert np.all(np.abs(r["bms.soc[1]"][1:] - 0.9) < 0.05)  # the EKF near the pack's 90 % start


def test_a_charger_delivers_the_bms_request_within_its_cold_limit(pack_fmus, pack):
    """The fast-charge wiring: the modules carry minus the BMS's CC-CV request of the step before,
    which at 0 degC is the derated charge limit (0.2 of the 1C rating at 0 degC), from the first
    step: the BMS starts from the modules' own initial voltages and temperatures."""
    system = pack_system(pack_fmus, pack, coolant_inlet_temperature_K=273.15, ambient_temperature_K=273.15,
                         with_load=False, charger=True, initial_temperature_K=273.15, initial_soc=0.1)
    r = Execution(system).run(stop_s=20.0, step_s=1.0)
    request, limit = r["bms.chargeCurrentRequest"], r["bms.chargeCurrentLimit"]
    rating = pack.module.cell.nominal_capacity_As / 3600.0 * pack.module.n_parallel  # 1C of an element [A]
    assert np.allclose(limit[:3], 0.2 * rating, rtol=0.02)  # the derating at 0 degC (the cells warm a little)
    assert np.all(request <= limit + 1e-9) and np.all(request > 0.19 * rating)
    for m in range(pack.n_modules):
        assert np.allclose(r[f"module{m + 1}.moduleCurrent"][1:], -request[:-1], rtol=0, atol=1e-9)
    assert abs(r["bms.packSocMean"][0] - 0.1) < 0.02  # from the OCV of the modules' initial voltages
