"""``fmutwin cosim run``: a scenario file (system, a current from CSV, a coolant-pump failure at a
set time) runs from the command line and writes its results; a bad scenario field is named."""

from __future__ import annotations

import json

import numpy as np
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
