"""``fmutwin cosim run``: a scenario file (system, a current from CSV, a coolant-pump failure at a
set time) runs from the command line and writes its results; a bad scenario field is named. The
README's main job and the scenario scripts run end to end, as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from fmutwin.cli import main
from fmutwin.cosim import read_results, save
from fmutwin.pack_cosim import pack_system


def test_a_scenario_runs_from_the_command_line(pack_fmus, pack, tmp_path):
    save(pack_system(pack_fmus, pack, with_bms=False, with_load=False), tmp_path / "pack.ssd")
    t = np.arange(0.0, 30.0)
    (tmp_path / "current.csv").write_text("# a pack current, positive = discharge\ntime,current\n"
                                          + "".join(f"{a},{b}\n" for a, b in zip(t, 50 + 10 * np.sin(t))))
    scenario = {"system": "pack.ssd", "stop_s": 30, "step_s": 1, "algorithm": "iterated",
                "inputs": [{"target": f"module{m + 1}.current", "csv": "current.csv", "column": "current"}
                           for m in range(pack.n_modules)],
                "events": [{"time_s": 10, "inputs": {"thermal.coolantFlow": 0.0}, "name": "pump failure"}],
                "outputs": {"file": "out/run.csv", "variables": ["module1.moduleCurrent", "thermal.heatToCoolant"]}}
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    run = CliRunner().invoke(main, ["cosim", "run", str(tmp_path / "scenario.json")])
    assert run.exit_code == 0, run.output
    r = read_results(tmp_path / "out" / "run.csv")
    assert np.array_equal(r["time"], np.arange(0.0, 31.0))
    assert np.allclose(r["module1.moduleCurrent"][1:], 50 + 10 * np.sin(t), atol=1e-9)
    assert np.all(np.abs(r["thermal.heatToCoolant"][11:]) < 1e-6)  # no flow: the coolant carries nothing away
    assert np.all(np.abs(r["thermal.heatToCoolant"][2:10]) > 1e-3)

    scenario["stop_s"] = -1
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    bad = CliRunner().invoke(main, ["cosim", "run", str(tmp_path / "scenario.json")])
    assert bad.exit_code != 0 and "stop_s: Input should be greater than 0" in bad.output


def test_the_readme_main_job_writes_its_system_results_and_plot(pack_fmus, tmp_path):
    """cosim_examples/pack_cosim.py (the README's first command) on the session's FMUs, the whole
    WLTC: it writes the system file, the results with every FMU's provenance, and the plot."""
    import subprocess
    import sys
    from pathlib import Path

    from fmutwin.cosim import load

    script = Path(__file__).resolve().parents[2] / "cosim_examples" / "pack_cosim.py"
    fmus = pack_fmus["module"].parent
    run = subprocess.run([sys.executable, str(script), "--fmus", str(fmus), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1800 steps of 1 s" in run.stdout
    assert len(load(tmp_path / "pack.ssd").components) == 11
    r = read_results(tmp_path / "results.parquet")
    assert np.array_equal(r["time"], np.arange(0.0, 1801.0))
    meta = json.loads((tmp_path / "results.parquet.meta.json").read_text())
    cell = meta["fmus"]["module"]["parameter_file_provenance"]["origin"]["cell"]
    assert cell["name"] == "chen2020_dfn_50Ah" and len(cell["record_sha256"]) == 64
    assert (tmp_path / "pack_cosim.png").stat().st_size > 50_000


@pytest.mark.slow
def test_the_scenario_scripts_run_and_show_what_they_promise(pack_fmus, tmp_path):
    """cosim_examples/pack_scenarios.py, all three scenarios as a user runs them; each shows what
    its docstring promises, checked against the parameter files, not against a previous run."""
    import subprocess
    import sys
    from pathlib import Path

    from fmutwin.params.flagship import flagship_bms_parameters

    script = Path(__file__).resolve().parents[2] / "cosim_examples" / "pack_scenarios.py"
    run = subprocess.run([sys.executable, str(script), "--fmus", str(pack_fmus["module"].parent), "--out",
                          str(tmp_path)], capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout + run.stderr
    bms = flagship_bms_parameters()
    one_c = bms.n_parallel * bms.cell.nominal_capacity_As / 3600.0  # an element's (the pack's) 1C [A]

    hot = read_results(tmp_path / "us06_hot_pump_failure" / "results.csv")
    before, after = (hot["time"] > 1) & (hot["time"] <= 600), hot["time"] > 602
    # no flow: the coolant carries nothing away (a flow floor of 1e-12 kg/s leaves nanowatts)
    assert np.all(hot["thermal.heatToCoolant"][before] > 1e3) and np.all(np.abs(hot["thermal.heatToCoolant"][after]) < 1e-6)
    plates = np.array([hot[f"thermal.plateTemperature[{m + 1}]"] for m in range(8)])
    assert np.all(np.diff(plates[:, after], axis=1).sum(axis=1) > 0)  # with no flow the plates only warm

    cold = read_results(tmp_path / "fast_charge_cold" / "results.csv")
    lim = bms.limits
    def derated(temperature_K):  # the charge limit the BMS file gives an element at that temperature
        return np.interp(temperature_K, lim.derating_temperature_K, lim.charge_derating) * lim.max_charge_c_rate * one_c

    # after the first step the cells are barely above 0 degC: the request is the 0.2C derated limit
    # of the coldest measured element, between that at 0 degC and that at the hottest cell
    warmest = max(cold[f"module{m + 1}.maxCellTemperature"][1] for m in range(8))
    assert derated(273.15) <= cold["bms.chargeCurrentRequest"][1] <= derated(warmest)
    assert derated(warmest) < 1.01 * derated(273.15)
    current = cold["module1.moduleCurrent"][1:]
    assert np.all(current <= 0) and np.all(-current <= cold["bms.chargeCurrentLimit"][:-1] + 1e-9)
    assert max(cold[f"module{m + 1}.maxCellVoltage"].max() for m in range(8)) < lim.max_cell_voltage_V
    assert cold["bms.packSocMean"][-1] > cold["bms.packSocMean"][1] + 0.2

    short = read_results(tmp_path / "internal_short" / "results.csv")
    sensor = short["bms.alarmTemperatureSensor[26]"]  # module 3, element 2: the shorted cell's element
    raised = short["time"][np.flatnonzero(sensor)]
    assert raised.size and 300 < raised[0] < 300 + 120 and np.all(sensor[short["time"] >= raised[0]])
    assert all(short[f"bms.alarmTemperatureSensor[{e + 1}]"].max() == 0 for e in range(96) if e != 25)
    assert np.all(short["load.current"][short["time"] > raised[0] + 1] == 0)  # the alarm stops the pack
