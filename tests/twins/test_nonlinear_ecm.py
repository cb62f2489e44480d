"""The ECM's nonlinear overpotentials (charge transfer b asinh(I / I_ct), electrolyte
concentration k_e e^3) against an independently written ODE solve (scipy), in a parallel group's
exact current split, and the fitted-range warning of a reduced ECM.

Sign convention: positive current discharges the cell.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from cells import simple_cell
from modules import make_module
from fmutwin.twins import CellECMTwin
from fmutwin.twins.cell_ecm import FittedRangeWarning
from fmutwin.twins.cell_ecm_interface import CellECMModel
from fmutwin.twins.module import ModuleTwin

B_V, I_CT_A, K_E_V, TAU_E_S = 0.03, 20.0, 0.002, 90.0
NONLINEAR = {"charge_transfer": {"voltage_V": B_V, "current_A": I_CT_A},
             "concentration": {"coefficient_V": K_E_V, "time_constant_s": TAU_E_S}}


def nonlinear_cell(**changes):
    return simple_cell(1, **NONLINEAR, **changes)


def _profile():
    """Pulses of 3C discharge and 2C charge with rests, and a 1.5C stretch, at 1 s and 5 s steps
    (the default cell: 100 Ah)."""
    parts = [(30, 300.0, 1.0), (20, 0.0, 1.0), (30, -200.0, 1.0), (60, 0.0, 5.0), (600, 150.0, 5.0), (120, 0.0, 5.0)]
    times, currents = [0.0], []
    for duration, current, step in parts:
        n = int(duration / step)
        times += list(times[-1] + step * np.arange(1, n + 1))
        currents += [current] * n
    return np.array(times), np.array(currents)


def test_voltage_equals_an_independent_ode_solve():
    """Constant tables: the twin's exact steps against scipy's Radau on the ODEs
    SOC' = -I/Q, v1' = (I R1 - v1)/tau1, e' = (3600 I/Q - e)/tau_e and
    V = OCV(SOC) - I R0 - b asinh(I / I_ct) - k_e e^3 - v1."""
    params = nonlinear_cell()
    time_s, current = _profile()
    out = CellECMTwin(params).run(time_s, current)
    q = params.nominal_capacity_As
    r0 = params.r0_ohm.values
    r1, tau1 = params.rc_branches[0].resistance_ohm.values, params.rc_branches[0].time_constant_s.values
    ocv_soc, ocv = params.ocv_V.soc, params.ocv_V.values
    state = np.array([params.initial.soc, 0.0, 0.0])
    voltage = []
    for k, i in enumerate(current):
        def rhs(t, y, i=i):
            return [-i / q, (i * r1 - y[1]) / tau1, (3600.0 * i / q - y[2]) / TAU_E_S]
        state = solve_ivp(rhs, (time_s[k], time_s[k + 1]), state, method="Radau", rtol=1e-12, atol=1e-14).y[:, -1]
        voltage.append(np.interp(state[0], ocv_soc, ocv) - i * r0 - B_V * np.arcsinh(i / I_CT_A)
                       - K_E_V * state[2] ** 3 - state[1])
    err = out["voltage_V"] - np.array(voltage)
    assert np.max(np.abs(err)) < 1e-12  # measured 2.7e-15 V
    # the terms are not small: 3C gives b asinh(15) = 0.10 V and a concentration state near 3
    assert np.max(np.abs(B_V * np.arcsinh(current / I_CT_A))) > 0.05


def test_energy_of_the_overpotentials_is_counted_as_heat():
    """Terminal energy + generated heat = the OCV source's energy, with the nonlinear terms in."""
    params = nonlinear_cell()
    time_s, current = _profile()
    out = CellECMTwin(params).run(time_s, current)
    q = params.nominal_capacity_As
    soc = np.concatenate([[params.initial.soc], out["soc"]])
    grid = np.linspace(0, 1, 20001)
    ocv = np.interp(grid, params.ocv_V.soc, params.ocv_V.values)
    chemical = -q * np.trapezoid(np.interp(np.linspace(soc[0], soc[-1], 20001), grid, ocv),
                                 np.linspace(soc[0], soc[-1], 20001))
    total = out["terminal_energy_J"][-1] + out["heat_generated_J"][-1]
    assert total == pytest.approx(chemical, rel=1e-6)
    linear = CellECMTwin(simple_cell(1)).run(time_s, current)
    assert out["heat_generated_J"][-1] > 1.2 * linear["heat_generated_J"][-1]  # the overpotentials dissipate


def test_parallel_cells_split_exactly_with_the_nonlinear_terms():
    """1s3p of the nonlinear cell with 20 % R0 and capacity variation: each step the cell currents
    sum to the module current and the cells' terminal voltages agree to 1e-9 V."""
    cell = nonlinear_cell(thermal={"model": "lumped", "mass_J_per_K": 1e9, "heat_transfer_W_per_K": 0.0})
    params = make_module(1, 3, cell=cell, variation={"r0_scale": [0.8, 1.0, 1.2], "capacity_scale": [1.1, 1.0, 0.9]})
    time_s, current = _profile()
    out = ModuleTwin(params).run(time_s, 3 * current)
    cells = out["cell_current_A"]
    np.testing.assert_allclose(cells.sum(axis=1), 3 * current, rtol=0, atol=1e-10)  # measured 2e-13 A
    assert np.max(np.ptp(out["cell_voltage_V"], axis=1)) < 1e-9
    assert np.max(np.ptp(cells, axis=1)) > 10.0  # the cells really differ


def test_a_reduced_ecm_outside_its_fitted_range_warns_once_and_the_fmu_model_logs_it():
    params = nonlinear_cell(provenance={"fitted_range": {"max_discharge_current_A": 200.0, "max_charge_current_A": 100.0,
                                                         "min_temperature_K": 288.15, "max_temperature_K": 308.15}})
    twin = CellECMTwin(params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        twin.step(150.0, 1.0, 298.15)  # inside: no warning
    with pytest.warns(FittedRangeWarning, match=r"discharge current 300 A .*\(limit 200 A\)"):
        twin.step(300.0, 1.0, 298.15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        twin.step(300.0, 1.0, 298.15)  # once per kind
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        twin.step(0.0, 1.0, 284.15)  # within 5 K of the fitted temperatures
    with pytest.warns(FittedRangeWarning, match=r"temperature below 278.15 K .*\(limit 283.15 K\)"):
        twin.step(0.0, 1.0, 278.15)
    assert len(twin.range_warnings) == 2

    model = CellECMModel()
    model.twin = CellECMTwin(params)
    with pytest.warns(FittedRangeWarning):
        model.twin.step(-150.0, 1.0, 298.15)
    assert [m.split(" ")[0] for m in model.warnings()] == ["charge"]
    assert model.warnings() == []
