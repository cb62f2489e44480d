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


def test_the_readme_main_job_writes_its_system_results_and_plot(pack_fmus, tmp_path):
    """cosim_examples/pack_cosim.py (the README's first command) on the session's FMUs, 60 s of
    WLTC: it writes the system file, the results with every FMU's provenance, and the plot."""
    import subprocess
    import sys
    from pathlib import Path

    from fmutwin.cosim import load

    script = Path(__file__).resolve().parents[2] / "cosim_examples" / "pack_cosim.py"
    fmus = pack_fmus["module"].parent
    run = subprocess.run([sys.executable, str(script), "--fmus", str(fmus), "--out", str(tmp_path), "--stop", "60"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "60 steps of 1 s" in run.stdout
    assert len(load(tmp_path / "pack.ssd").components) == 11
    r = read_results(tmp_path / "results.parquet")
    assert np.array_equal(r["time"], np.arange(0.0, 61.0))
    meta = json.loads((tmp_path / "results.parquet.meta.json").read_text())
    cell = meta["fmus"]["module"]["parameter_file_provenance"]["origin"]["cell"]
    assert cell["name"] == "chen2020_dfn_50Ah" and len(cell["record_sha256"]) == 64
    assert (tmp_path / "pack_cosim.png").stat().st_size > 50_000
