"""The cell twin example runs and writes its CSV and PNG, and the CSV holds the run."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

from fmutwin.data import drive_cycle
from fmutwin.params import default_cell_parameters

ROOT = Path(__file__).resolve().parents[1]


def test_cell_drive_cycle_example_writes_csv_and_png(tmp_path):
    from matplotlib.image import imread

    subprocess.run([sys.executable, str(ROOT / "cosim_examples" / "cell_drive_cycle.py"), "--out", str(tmp_path),
                    "--repeat", "1"], check=True, capture_output=True, text=True)
    rows = list(csv.DictReader((tmp_path / "cell_us06.csv").open()))
    run = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    time_s, current = drive_cycle("US06", scale=10.0)
    np.testing.assert_array_equal(run["time_s"], time_s[1:])
    np.testing.assert_array_equal(run["current_A"], current[:-1])
    # SOC by coulomb counting (no self-discharge in the default set)
    charge_As = np.cumsum(current[:-1] * np.diff(time_s))
    np.testing.assert_allclose(run["soc"], 0.9 - charge_As / default_cell_parameters().nominal_capacity_As,
                               rtol=0, atol=1e-13)
    # a lumped cell heats up over a discharge-heavy cycle, from 25 degC
    assert run["temperature_K"][-1] > 298.15 + 0.01
    image = imread(tmp_path / "cell_us06.png")
    assert image.shape[0] > 800 and np.ptp(image[..., :3]) > 0.5


def test_pack_wltc_example_writes_csv_and_png(tmp_path):
    """The main job's pack example: one WLTC on the monolithic pack; its CSV holds the demand, the
    delivered power follows it (current from the last step's voltage), and the coolant, colder
    than the pack, takes heat out of it."""
    from matplotlib.image import imread

    from fmutwin.data import power_per_second

    subprocess.run([sys.executable, str(ROOT / "cosim_examples" / "pack_wltc.py"), "--out", str(tmp_path),
                    "--repeats", "1"], check=True, capture_output=True, text=True)
    rows = list(csv.DictReader((tmp_path / "pack_wltc.csv").open()))
    run = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    seconds, power = power_per_second("WLTC")
    np.testing.assert_array_equal(run["time_s"], seconds[1:])
    np.testing.assert_array_equal(run["power_demand_W"], power)
    assert np.max(np.abs(run["pack_power_W"] - power)) < 200.0  # the voltage's change within one step
    assert np.all(run["heat_to_coolant_W"] > 0) and run["outlet_temperature_K"][-1] > 293.15
    image = imread(tmp_path / "pack_wltc.png")
    assert image.shape[0] > 1000 and np.ptp(image[..., :3]) > 0.5
