"""Scenario sweeps: the engine (fmutwin.cosim.sweep) on a local process pool and on a Dask
LocalCluster, failures as rows, resume after a kill; and the pack sweep (fmutwin.pack_sweep) on
the real pack FMUs, its rows checked against what they must be independently of the master."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

#: how many scenarios this worker process has run (a worker keeps its state between scenarios)
_RUNS = {"n": 0}


def square(scenario: dict) -> dict:
    """A scenario's row: x squared; x < 0 fails; the worker's pid and its run count."""
    if scenario["x"] < 0:
        raise ValueError(f"x = {scenario['x']} is negative")
    time.sleep(scenario.get("sleep", 0.0))
    _RUNS["n"] += 1
    return {"y": scenario["x"] ** 2, "pid": os.getpid(), "run_in_worker": _RUNS["n"]}


SCENARIOS = {f"x={x}": {"x": x} for x in (-1, 0, 1, 2, 3, 4, 5)}


def _rows(folder):
    from fmutwin.cosim.sweep import read_table

    return {r["id"]: r for r in read_table(folder).to_pylist()}


def test_local_pool_writes_a_row_per_scenario_and_a_failure_as_a_row(tmp_path):
    from fmutwin.cosim.sweep import run_sweep

    ran = run_sweep(SCENARIOS, square, tmp_path / "rows", workers=2, progress=False)
    assert sorted(ran) == sorted(SCENARIOS)
    rows = _rows(tmp_path / "rows")
    assert rows["x=-1"]["status"] == "failed" and "ValueError: x = -1 is negative" in rows["x=-1"]["error"]
    assert all(rows[k]["status"] == "ok" and rows[k]["y"] == v["x"] ** 2 for k, v in SCENARIOS.items() if v["x"] >= 0)
    assert len({r["pid"] for r in rows.values() if r["status"] == "ok"}) <= 2
    assert max(r["run_in_worker"] for r in rows.values() if r["status"] == "ok") > 1  # a worker ran several
    assert run_sweep(SCENARIOS, square, tmp_path / "rows", workers=2, progress=False) == []  # all done
    assert run_sweep(SCENARIOS, square, tmp_path / "rows", workers=2, progress=False, retry_failed=True) == ["x=-1"]
    (tmp_path / "rows" / "x=3.parquet").unlink()
    assert run_sweep(SCENARIOS, square, tmp_path / "rows", workers=1, progress=False) == ["x=3"]
    with pytest.raises(ValueError, match="scenario id"):
        run_sweep({"a/b": {"x": 1}}, square, tmp_path / "rows", progress=False)


def test_dask_local_cluster_gives_the_same_rows(tmp_path):
    from distributed import Client, LocalCluster

    from fmutwin.cosim.sweep import run_sweep

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        ran = run_sweep(SCENARIOS, square, tmp_path / "rows", scheduler=client, progress=False)
        workers = set(client.scheduler_info()["workers"])
    assert sorted(ran) == sorted(SCENARIOS) and len(workers) == 2
    rows = _rows(tmp_path / "rows")
    assert rows["x=-1"]["status"] == "failed" and "negative" in rows["x=-1"]["error"]
    assert [rows[f"x={x}"]["y"] for x in range(6)] == [x * x for x in range(6)]
    assert max(r["run_in_worker"] for r in rows.values() if r["status"] == "ok") > 1


def test_a_killed_sweep_resumes_where_it_stopped(tmp_path):
    """SIGKILL the whole sweep (parent and workers) after some rows; run again: only the missing
    scenarios run, and every row is complete."""
    scenarios = {f"x={x}": {"x": x, "sleep": 0.4} for x in range(12)}
    script = tmp_path / "run.py"
    script.write_text(f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                      "from test_sweep import square\nfrom fmutwin.cosim.sweep import run_sweep\n"
                      "import json\nif __name__ == '__main__':\n"
                      f"    print(json.dumps(run_sweep(json.loads({json.dumps(json.dumps(scenarios))}), square, "
                      f"{str(tmp_path / 'rows')!r}, workers=1, progress=False)))\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list((tmp_path / "rows").glob("*.parquet"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.stem for p in (tmp_path / "rows").glob("*.parquet")}
    assert 4 <= len(done) < 12
    again = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert sorted(json.loads(again.stdout)) == sorted(set(scenarios) - done)
    rows = _rows(tmp_path / "rows")
    assert sorted(rows) == sorted(scenarios) and all(r["status"] == "ok" for r in rows.values())


# -- the pack sweep on the real FMUs ---------------------------------------------------------------

STOP_S = 30


@pytest.fixture(scope="module")
def pack_sweep_result(tmp_path_factory):
    """Four scenarios of 30 s on a Dask LocalCluster of two workers, through the CLI's path."""
    from distributed import Client, LocalCluster

    from fmutwin import pack_sweep

    from fmutwin.data import drive_cycle_power

    folder = tmp_path_factory.mktemp("pack_sweep")
    t, power = drive_cycle_power("WLTC")
    np.savetxt(folder / "half_wltc.csv", np.column_stack([t, power / 2e3]), delimiter=",",
               header="time [s], power [kW]: WLTC at half power")
    file = folder / "sweep.json"
    file.write_text(json.dumps({"name": "test", "stop_s": STOP_S,
                                "grid": {"cooling": ["off", "nominal", "high"]},
                                "scenarios": [{"cycle": "half_wltc.csv", "ambient_C": 0.0, "coolant_inlet_C": 0.0,
                                               "seed": 3, "capacity_soh": 0.9, "resistance_growth": 0.3}]}))
    sweep, scenarios = pack_sweep.load_sweep(file)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        pack_sweep.run(sweep, scenarios, folder / "out", folder / "fmus", scheduler=client, progress=False)
    return scenarios, _rows(folder / "out" / "rows"), folder


def test_pack_sweep_rows_hold_what_they_must(pack_sweep_result):
    from fmutwin.data import power_per_second

    scenarios, rows, _ = pack_sweep_result
    assert sorted(rows) == sorted(scenarios) and all(r["status"] == "ok" for r in rows.values()), rows
    by = {(Path(r["cycle"]).name, r["cooling"]): r for r in rows.values()}
    demand = np.asarray(power_per_second("WLTC")[1][:STOP_S], dtype=float)
    for r in rows.values():  # the load delivers its demand, unclamped
        assert r["time_at_limit_s"] == 0.0
        half = r["cycle"].endswith("half_wltc.csv")
        np.testing.assert_allclose(r["energy_delivered_J"], demand.sum() * (0.5 if half else 1.0), rtol=1e-12)
    off, nominal, high = (by[("WLTC", c)] for c in ("off", "nominal", "high"))
    assert abs(off["heat_to_coolant_J"]) < 1e-3 < nominal["heat_to_coolant_J"] < high["heat_to_coolant_J"]
    cold = by[("half_wltc.csv", "nominal")]
    assert cold["max_cell_temperature_K"] < 273.15 + 0.5 and nominal["max_cell_temperature_K"] > 298.0
    for r in rows.values():
        assert 2.5 < r["min_cell_voltage_V"] <= r["max_cell_voltage_V"] < 4.3
        assert 0.0 <= r["soc_error_rms"] <= r["soc_error_max"] < 0.05
        assert r["simulation_s"] > 0 and r["setup_s"] > 0 and r["steps"] == STOP_S


def test_scenario_pack_redraws_the_variation_reproducibly():
    from fmutwin.pack_sweep import scenario_pack

    base, one, again = scenario_pack(0), scenario_pack(1), scenario_pack(1)
    assert one.realised == again.realised
    assert one.realised["capacity_scale"] != base.realised["capacity_scale"]
    aged = scenario_pack(0, capacity_soh=0.8, resistance_growth=0.5)
    np.testing.assert_allclose(aged.realised["capacity_scale"], np.multiply(base.realised["capacity_scale"], 0.8))
    np.testing.assert_allclose(aged.realised["r0_scale"], np.multiply(base.realised["r0_scale"], 1.5))


def test_sweep_file_errors_name_the_field(tmp_path):
    from fmutwin.pack_sweep import SweepError, load_sweep

    bad = tmp_path / "bad.json"
    for content, message in [({"grid": {"cooling": ["freezing"]}}, "scenario 1"),
                             ({"grid": {"colour": ["red"]}}, "grid"),
                             ({"stop_s": -5, "scenarios": [{}]}, "stop_s"),
                             ({"stop_s": 2.5, "scenarios": [{}]}, "whole number"),
                             ({"scenarios": [{"aging_cycles": 100}]}, "no cycling-aging model"),
                             ({"scenarios": [{"cycle": "missing.csv"}]}, "cycle"),
                             ({}, "no scenarios")]:
        bad.write_text(json.dumps(content))
        with pytest.raises(SweepError, match=message):
            load_sweep(bad)
    bad.write_text("{not json")
    with pytest.raises(SweepError, match="cannot read"):
        load_sweep(bad)


def test_cli_sweep_writes_the_table_and_the_summary(pack_sweep_result, tmp_path):
    from click.testing import CliRunner

    from fmutwin.cli import main

    fmus = pack_sweep_result[2] / "fmus"
    file = tmp_path / "small.json"
    file.write_text(json.dumps({"name": "small", "stop_s": 5, "scenarios": [{"cooling": "high"}]}))
    args = ["sweep", str(file), "--fmus", str(fmus), "--workers", "1", "--out", str(tmp_path / "small")]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "1 scenarios run now, 1 in all, 0 failed" in first.output
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "small" / "results.parquet").to_pylist()
    assert [r["status"] for r in table] == ["ok"] and (tmp_path / "small" / "summary.png").stat().st_size
    assert "0 scenarios run now, 1 in all" in CliRunner().invoke(main, args).output
    file.write_text(json.dumps({"name": "small", "stop_s": 6, "scenarios": [{"cooling": "high"}]}))
    other = CliRunner().invoke(main, args)  # other settings: the old rows are not mixed in
    assert other.exit_code != 0 and "other settings" in other.output
    file.write_text(json.dumps({"name": "small", "scenarios": [{"cycle": "US06"}]}))
    bad = CliRunner().invoke(main, args)
    assert bad.exit_code != 0 and "not a power-demand cycle" in bad.output


def test_the_example_sweep_file_loads():
    from fmutwin.pack_sweep import load_sweep

    sweep, scenarios = load_sweep(Path(__file__).parents[2] / "cosim_examples" / "pack_sweep.json")
    assert len(scenarios) == 3 * 3 * 2 + 1 and sweep.stop_s == 600
    assert sum(s["capacity_soh"] == 0.8 for s in scenarios.values()) == 1
