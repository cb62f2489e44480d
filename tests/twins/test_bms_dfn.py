"""The BMS's SoC filters on an electrochemical plant: PyBaMM's DFN (Chen2020, one cell, isothermal)
over UDDS and WLTC-shaped currents at 25 degC and UDDS at 15 and 35 degC (and the capacity
estimate over a full cycle), the filters' model the
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


def test_capacity_from_rest_to_rest_on_the_dfn(reduced_chen2020_three_temperatures):
    """The capacity estimate over one full cycle of the DFN plant (rest, discharge 0.8 -> 0.2 at
    0.5C, rest, charge back, rest; 10 s steps, the same sensor noise): within 1 % of the DFN's own
    capacity, the charge it gave over its SoC change between the two rests (measured 0.23 %; the
    issue's target 3 %: the ECM's OCV is the DFN's equilibrium, 600 s of rest nearly relax it)."""
    cell = CellParameters.load(reduced_chen2020_three_temperatures)
    capacity_As = 5.0 * 3600.0
    rest, half = np.zeros(70), np.full(216, 0.5 * capacity_As / 3600.0)  # 0.5C for 2160 s: 0.3 of the capacity x 2
    current = np.r_[rest, half, half, rest, -half, -half, rest]
    time_s = np.arange(len(current) + 1.0) * 10.0
    dfn = CellEchemTwin("DFN", "Chen2020", initial_soc=0.8)
    out = dfn.run(time_s, current)
    rng = np.random.default_rng(3)
    params = BmsParameters(name="dfn", cell=cell, n_series=1, estimator={"initial_soc": 0.7})
    est = BmsTwin(params).run(time_s, current + rng.normal(0.0, 0.05, current.shape),
                              (out["voltage_V"] + rng.normal(0.0, 0.01, current.shape))[:, None],
                              np.full((len(current), 1), 298.15))
    rested = 70 + 432 + 59  # the second rest reaches 600 s at this step
    drawn = np.sum(current[70:70 + 432]) * 10.0
    true_capacity = drawn / (out["soc"][70] - out["soc"][rested])
    estimate = np.reshape(est["capacity_As"], -1)
    print(f"DFN capacity {true_capacity:.0f} As, estimate {estimate[rested]:.0f} As after the discharge, "
          f"{estimate[-1]:.0f} As at the end")
    assert estimate[rested - 1] == cell.nominal_capacity_As  # no estimate before the second rest
    assert abs(estimate[rested] / true_capacity - 1.0) < 0.01
    assert abs(estimate[-1] / true_capacity - 1.0) < 0.01


@pytest.mark.parametrize("direction, soc0", [("discharge", 0.3), ("charge", 0.7)])
def test_the_dfn_at_the_limit_current_stays_within_its_voltage_limits(reduced_chen2020_three_temperatures,
                                                                      direction, soc0):
    """The DFN plant driven at the BMS's discharge (charge) current limit, as a drive that asks
    for more than it may get: its voltage never leaves the limits the BMS keeps to (2.5-4.2 V),
    and it comes close (the limit binds), though the estimator's model is the reduced ECM.

    From SoC 0.3 the limit is 3C (the rating) until the DFN's electrolyte depletes, and then the
    DFN falls 40-70 mV per second, far faster than the reduced ECM predicts (issue 17): the
    voltage feedback holds it (measured: lowest 2.5073 V; highest 4.1897 V on charge; without the
    feedback the DFN reaches 2.5 V after 124 s from 0.3)."""
    cell = CellParameters.load(reduced_chen2020_three_temperatures)
    params = BmsParameters(name="dfn", cell=cell, n_series=1, estimator={"initial_soc": soc0})
    bms, dfn = BmsTwin(params), CellEchemTwin("DFN", "Chen2020", initial_soc=soc0)
    sign = 1.0 if direction == "discharge" else -1.0
    y = bms.step([float(dfn.step(0.0, 1e-3)["voltage_V"][0])], 298.15, 0.0, 1e-3)
    voltages = []
    for _ in range(900):
        current = sign * y[f"{direction}_current_limit_A"]
        v = float(dfn.step(current, 1.0)["voltage_V"][0])
        voltages.append(v)
        y = bms.step([v], 298.15, current, 1.0)
    lim = params.limits
    if direction == "discharge":
        assert min(voltages) >= lim.min_cell_voltage_V and min(voltages) < lim.min_cell_voltage_V + 0.05
    else:
        assert max(voltages) <= lim.max_cell_voltage_V and max(voltages) > lim.max_cell_voltage_V - 0.05


def test_the_adaptive_filter_finds_a_larger_resistance_of_the_dfn(reduced_chen2020_three_temperatures):
    """The DFN with 8 mOhm of contact resistance (an aged cell's added series resistance) over
    UDDS from SoC 0.6: the resistance the adaptive filter adds to the reduced ECM's R0 after
    600 s, (factor - factor on the same DFN without it) x R0 at the cell's SoC and temperature,
    is the 8 mOhm within 5 % (measured 8.02-8.20 mOhm; the issue's target 10 %). The clean DFN's
    factor is not 1 with the nonlinear ECM (measured 0.76): its R0 is the smaller part of the instantaneous resistance
    beside the charge transfer, so a few mV of model error move it."""
    from scipy.interpolate import RegularGridInterpolator

    from fmutwin.twins.cell_echem import CONTACT_RESISTANCE

    cell = CellParameters.load(reduced_chen2020_three_temperatures)
    current = cycle("UDDS")
    time_s = np.arange(len(current) + 1.0)
    r0 = RegularGridInterpolator((cell.r0_ohm.soc, cell.r0_ohm.temperature_K), np.asarray(cell.r0_ohm.values))
    factors = []
    for extra_ohm in (0.0, 0.008):
        dfn = CellEchemTwin("DFN", "Chen2020", initial_soc=0.6, parameter_overrides={CONTACT_RESISTANCE: extra_ohm},
                            model_options={"contact resistance": "true"})
        out = dfn.run(time_s, current)
        params = BmsParameters(name="dfn", cell=cell, n_series=1, estimator={"initial_soc": 0.5, "method": "adaptive"})
        est = BmsTwin(params).run(time_s, current, out["voltage_V"][:, None], np.full((len(current), 1), 298.15))
        late = est["time_s"] > 600
        factor = np.reshape(est["r0_factor"], -1)[late]
        own = r0(np.column_stack([out["soc"][late], np.full(late.sum(), 298.15)]))
        factors.append(factor)
    added = (factors[1] - factors[0]) * own
    print(f"added resistance found: {added.mean() * 1e3:.2f} mOhm (min {added.min() * 1e3:.2f}, max "
          f"{added.max() * 1e3:.2f}); clean factor {factors[0].mean():.3f}")
    np.testing.assert_allclose(added, 0.008, rtol=0.05)
