"""Cycling and calendar aging: the stated laws checked at chosen points."""

from __future__ import annotations

import numpy as np
import pytest

from cells import simple_cell
from fmutwin.twins import CellECMTwin

T_AMB = 298.15
R_GAS = 8.314462618
AGING = {"reference_cycles": 1000.0, "capacity_change_percent": -20.0, "resistance_change_percent": 50.0,
         "ocv_change_percent": -2.0}


def _ocv(params, soc):
    return np.interp(soc, params.ocv_V.soc, params.ocv_V.values)


@pytest.mark.parametrize("cycles", [0.0, 10.0, 250.0, 1000.0, 2000.0])
def test_cycling_aging_laws(cycles):
    params = simple_cell(n_rc=0, cycling_aging={**AGING, "initial_cycles": cycles})
    twin = CellECMTwin(params)
    current, dt = 30.0, 1e-6  # a tiny step: the state is still the initial one
    y = twin.step(current, dt, T_AMB)
    assert y["num_cycles"][0] == pytest.approx(cycles + current * dt / params.nominal_capacity_As, rel=1e-12)
    ratio = np.sqrt(y["num_cycles"][0] / 1000.0)  # outputs are evaluated at the end-of-step state
    assert y["capacity_As"][0] == pytest.approx(params.nominal_capacity_As * (1 - 0.20 * ratio), rel=1e-9)
    ocv = _ocv(params, y["soc"][0]) * (1 - 0.02 * y["num_cycles"][0] / 1000.0)
    assert y["ocv_V"][0] == pytest.approx(ocv, rel=1e-9)
    assert ocv - y["voltage_V"][0] == pytest.approx(current * 1e-3 * (1 + 0.5 * ratio), rel=1e-6)


def test_cycling_aging_scales_rc_resistance_too():
    params = simple_cell(n_rc=1, cycling_aging={**AGING, "initial_cycles": 1000.0})
    y = CellECMTwin(params).step(40.0, 1e6, T_AMB)  # branch fully charged: V1 = R1 I
    assert y["rc_voltage_1_V"][0] == pytest.approx(1e-3 * 1.5 * 40.0, rel=1e-9)


def test_num_cycles_counts_equivalent_full_discharges_only():
    params = simple_cell(n_rc=1, cycling_aging=AGING, initial={"soc": 1.0})
    twin = CellECMTwin(params)
    q = params.nominal_capacity_As
    for _ in range(100):
        y = twin.step(q / 2000.0, 10.0, T_AMB)  # 100 x 10 s: half a capacity discharged
    assert y["num_cycles"][0] == pytest.approx(0.5, rel=1e-12)
    for _ in range(100):
        y = twin.step(-q / 2000.0, 10.0, T_AMB)  # charging does not count
    assert y["num_cycles"][0] == pytest.approx(0.5, rel=1e-12)


CAL = {"storage_time_s": 3.15e7, "storage_temperature_K": 298.15, "storage_soc": 0.5, "storage_variable": "soc",
       "reference_time_s": 3.15e7, "reference_temperature_K": 298.15, "reference_stress": 0.5,
       "capacity_loss_percent": 4.0, "resistance_increase_percent": 12.0, "time_exponent": 0.5,
       "activation_energy_J_per_mol": 40e3, "stress_coefficient": 2.0}


@pytest.mark.parametrize("changes, factor", [
    ({}, 1.0),                                           # the reference point itself
    ({"storage_time_s": 4 * 3.15e7}, 2.0),               # (t / t_ref)^0.5
    ({"storage_temperature_K": 318.15}, np.exp(-40e3 / R_GAS * (1 / 318.15 - 1 / 298.15))),
    ({"storage_soc": 0.9}, np.exp(2.0 * 0.4)),
])
def test_calendar_aging_at_chosen_points(changes, factor):
    params = simple_cell(n_rc=0, calendar_aging={**CAL, **changes})
    y = CellECMTwin(params).step(30.0, 1e-6, T_AMB)
    assert y["capacity_As"][0] == pytest.approx(params.nominal_capacity_As * (1 - 0.04 * factor), rel=1e-9)
    assert y["ocv_V"][0] - y["voltage_V"][0] == pytest.approx(30.0 * 1e-3 * (1 + 0.12 * factor), rel=1e-6)


def test_calendar_aging_with_normalised_ocv_as_stress():
    params = simple_cell(n_rc=0, calendar_aging={**CAL, "storage_variable": "ocv", "storage_soc": 0.8})
    x = (_ocv(params, 0.8) - _ocv(params, 0.0)) / (_ocv(params, 1.0) - _ocv(params, 0.0))
    y = CellECMTwin(params).step(0.0, 1e-6, T_AMB)
    expected = 1 - 0.04 * np.exp(2.0 * (x - 0.5))
    assert y["capacity_As"][0] == pytest.approx(params.nominal_capacity_As * expected, rel=1e-9)


def test_calendar_aging_follows_per_cell_overrides():
    params = simple_cell(n_rc=0, calendar_aging=CAL)
    twin = CellECMTwin(params, n_cells=2, overrides={"storage_time_s": [3.15e7, 4 * 3.15e7]})
    y = twin.step(0.0, 1e-6, T_AMB)
    np.testing.assert_allclose(y["capacity_As"], params.nominal_capacity_As * (1 - 0.04 * np.array([1.0, 2.0])),
                               rtol=1e-9)
