"""The BMS's SoC filters on an electrochemical plant: PyBaMM's DFN (Chen2020, one cell, isothermal)
over UDDS and WLTC-shaped currents at 25 degC and UDDS at 15 and 35 degC, the filters' model the
2-RC ECM that ``fmutwin reduce`` fitted to that DFN at those temperatures (never the plant's own
model), measured with 10 mV voltage noise, 50 mA current noise and a 0.5 % current gain error,
from a 20 % SoC error. The issue's target: EKF and UKF SoC RMS error <= 1 % after the first 300 s
(measured: 0.28-0.33 % at 25 degC, 0.46 % at 15, 0.22 % at 35); coulomb counting beside them."""

from __future__ import annotations

import numpy as np
import pytest

from fmutwin.data import drive_cycle, power_per_second
from fmutwin.params.bms import BmsParameters
from fmutwin.params.cell import CellParameters
from fmutwin.twins.bms import BmsTwin
from fmutwin.twins.cell_echem import CellEchemTwin

pytestmark = pytest.mark.slow


def cycle(name: str) -> np.ndarray:
    """The cycle's current for the 5 Ah cell, peaking at 2C (WLTC: its power profile's shape)."""
    if name == "WLTC":
        _, shape = power_per_second("WLTC")
    else:
        _, shape = drive_cycle(name)
    return shape / np.max(np.abs(shape)) * 10.0


@pytest.fixture(scope="module", params=[("UDDS", 298.15), ("WLTC", 298.15), ("UDDS", 288.15), ("UDDS", 308.15)],
                ids=lambda case: f"{case[0]}-{case[1] - 273.15:.0f}C")
def plant(request):
    name, temperature = request.param
    current = cycle(name)
    dfn = CellEchemTwin("DFN", "Chen2020", initial_soc=0.8, ambient_temperature_K=temperature)
    out = dfn.run(np.arange(len(current) + 1.0), current)
    rng = np.random.default_rng(7)
    return {"name": f"{name} at {temperature} K", "temperature_K": temperature,
            "current": current * 1.005 + rng.normal(0.0, 0.05, current.shape),
            "voltage": out["voltage_V"] + rng.normal(0.0, 0.01, current.shape), "soc": out["soc"],
            "time_s": np.arange(len(current) + 1.0)}


@pytest.mark.parametrize("method", ["ekf", "ukf"])
def test_filters_meet_one_percent_on_the_dfn(plant, reduced_chen2020_three_temperatures, method):
    cell = CellParameters.load(reduced_chen2020_three_temperatures)
    params = BmsParameters(name="dfn", cell=cell, n_series=1, estimator={"initial_soc": 0.6, "method": method})
    est = BmsTwin(params).run(plant["time_s"], plant["current"], plant["voltage"][:, None],
                              np.full((len(plant["current"]), 1), plant["temperature_K"]))
    error = est["soc"] - plant["soc"]
    error_cc = est["soc_coulomb_counting"] - plant["soc"]
    after = est["time_s"] > 300
    rms = float(np.sqrt(np.mean(error[after] ** 2)))
    within = np.flatnonzero(np.abs(error) > 0.02)
    converged_s = float(est["time_s"][within[-1]]) if within.size else 0.0
    print(f"{plant['name']} {method}: SoC RMS after 300 s {100 * rms:.3f} %, max {100 * np.abs(error[after]).max():.3f} %, "
          f"within 2 % from {converged_s:.0f} s; coulomb counting {100 * np.sqrt(np.mean(error_cc[after] ** 2)):.2f} %")
    assert rms <= 0.01
    assert np.sqrt(np.mean(error_cc[after] ** 2)) > 0.15  # charge counting keeps the 20 % error
