"""The cell twin against closed-form solutions: RC step responses, coulomb counting, thermal
steps, hysteresis, self-discharge and directional tables."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from cells import simple_cell
from fmutwin.twins import CellECMTwin

T_AMB = 298.15


def _ocv(params, soc):
    return np.interp(soc, params.ocv_V.soc, params.ocv_V.values)


@pytest.mark.parametrize("dt", [1.0, 7.3])
def test_rc_step_response_of_each_branch(dt):
    """Constant discharge from rest: V_i(t) = R_i I (1 - exp(-t/tau_i)), at any step size."""
    params = simple_cell(n_rc=3)
    twin = CellECMTwin(params)
    current = 50.0
    q = params.nominal_capacity_As
    for k in range(1, 60):
        y = twin.step(current, dt, T_AMB)
        t = k * dt
        drops = [1e-3 * (i + 1) * current * (1 - np.exp(-t / 10.0 ** (i + 1))) for i in range(3)]
        for i, drop in enumerate(drops):
            assert y[f"rc_voltage_{i + 1}_V"][0] == pytest.approx(drop, rel=1e-12, abs=1e-15)
        soc = params.initial.soc - current * t / q
        expected = _ocv(params, soc) - current * 1e-3 - sum(drops)
        assert y["voltage_V"][0] == pytest.approx(expected, abs=1e-12)


def test_coulomb_counting_with_varying_current(rng):
    params = simple_cell(n_rc=1)
    twin = CellECMTwin(params)
    currents = rng.uniform(-100, 150, 500)
    dts = rng.uniform(0.1, 5.0, 500)
    soc = [twin.step(i, dt, T_AMB)["soc"][0] for i, dt in zip(currents, dts)]
    expected = params.initial.soc - np.cumsum(currents * dts) / params.nominal_capacity_As
    np.testing.assert_allclose(soc, expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("dt", [1.0, 37.0])
def test_lumped_thermal_step_to_steady_state(dt):
    """Heat P into a lumped mass: T(t) = Tamb + P/hA (1 - exp(-hA t / C)), exact at any dt."""
    params = simple_cell(thermal={"model": "lumped", "mass_J_per_K": 800.0, "heat_transfer_W_per_K": 4.0},
                         initial={"soc": 0.5, "temperature_K": T_AMB})
    twin = CellECMTwin(params)
    power = 12.0
    for k in range(1, int(4000 / dt)):  # 20 time constants C/hA
        y = twin.step(0.0, dt, T_AMB, heat_flow_W=power)
        expected = T_AMB + power / 4.0 * (1 - np.exp(-4.0 * k * dt / 800.0))
        assert y["temperature_K"][0] == pytest.approx(expected, abs=1e-10)
    assert y["temperature_K"][0] == pytest.approx(T_AMB + power / 4.0, abs=1e-3)


def test_constant_temperature_follows_ambient():
    twin = CellECMTwin(simple_cell())
    assert twin.step(100.0, 1.0, 310.0)["temperature_K"][0] == 310.0


def _node_matrix(n, c, ha, g):
    """Independent formulation of the node network: dT/dt = A T + b (per-node mass C/n)."""
    a = np.zeros((n, n))
    for k in range(n):
        a[k, k] -= ha / n
        if k > 0:
            a[k, k] -= g
            a[k, k - 1] += g
        if k < n - 1:
            a[k, k] -= g
            a[k, k + 1] += g
    return a / (c / n)


def test_distributed_thermal_relaxes_like_the_exact_linear_solution():
    n, c, ha, g = 5, 1000.0, 10.0, 3.0
    params = simple_cell(thermal={"model": "distributed", "mass_J_per_K": c, "heat_transfer_W_per_K": ha,
                                  "nodes": n, "node_conductance_W_per_K": g})
    twin = CellECMTwin(params)
    t0 = np.array([330.0, 320.0, 310.0, 300.0, 290.0])
    for k in range(n):
        twin.state[f"node_temperature_{k + 1}_K"][:] = t0[k]
    power, dt, steps = 15.0, 0.05, 4000
    for _ in range(steps):
        y = twin.step(0.0, dt, T_AMB, heat_flow_W=power)
    a = _node_matrix(n, c, ha, g)
    b = (power / n + ha / n * T_AMB) / (c / n) * np.ones(n)
    steady = np.linalg.solve(-a, b)
    exact = steady + expm(a * dt * steps) @ (t0 - steady)
    got = np.array([y[f"node_temperature_{k + 1}_K"][0] for k in range(n)])
    np.testing.assert_allclose(got, exact, atol=2e-3)  # backward Euler: first order in dt
    assert y["temperature_K"][0] == pytest.approx(got.mean(), abs=1e-12)
    assert np.ptp(got) > 0.05  # still non-uniform: conduction, not a lumped shortcut


def test_distributed_thermal_is_stable_at_huge_steps_and_reaches_steady_state():
    params = simple_cell(thermal={"model": "distributed", "mass_J_per_K": 1000.0, "heat_transfer_W_per_K": 10.0,
                                  "nodes": 8, "node_conductance_W_per_K": 0.5})
    twin = CellECMTwin(params)
    for _ in range(50):
        y = twin.step(0.0, 5000.0, T_AMB, heat_flow_W=20.0)
    for k in range(8):
        assert y[f"node_temperature_{k + 1}_K"][0] == pytest.approx(T_AMB + 2.0, abs=1e-9)


@pytest.mark.parametrize("current", [40.0, -40.0])
def test_hysteresis_approaches_minus_or_plus_m_at_the_given_rate(current):
    """dH/dt = -|gamma I/Q| (H + sign I): H(t) = -s + (H0 + s) exp(-gamma |I| t / Q), s = sign(I)."""
    gamma, m, m0, h0 = 30.0, 0.02, 0.005, 0.2
    params = simple_cell(n_rc=1, hysteresis={"rate": gamma, "max_voltage_V": m, "instantaneous_voltage_V": m0,
                                             "initial_state": h0})
    twin = CellECMTwin(params)
    q, s = params.nominal_capacity_As, np.sign(current)
    for k in range(1, 3000):
        y = twin.step(current, 2.0, T_AMB)
        t = 2.0 * k
        h = -s + (h0 + s) * np.exp(-gamma * abs(current) * t / q)
        assert y["hysteresis_state"][0] == pytest.approx(h, abs=1e-12)
        v_rc = y["rc_voltage_1_V"][0]
        soc = params.initial.soc - current * t / q
        expected = _ocv(params, soc) + m * h - m0 * s - current * 1e-3 - v_rc
        assert y["voltage_V"][0] == pytest.approx(expected, abs=1e-12)
    assert y["hysteresis_state"][0] == pytest.approx(-s, abs=1e-3)


def test_self_discharge_drains_charge_and_heats():
    """At rest dSOC/dt = -OCV(SOC)/(R_SD Q): compared with an independent scipy solve."""
    r_sd = 20.0
    params = simple_cell(self_discharge_resistance_ohm={"temperature_K": [273.15, 323.15], "values": [r_sd, r_sd]})
    twin = CellECMTwin(params)
    q = params.nominal_capacity_As
    hours = 48
    soc_twin = [[twin.step(0.0, 60.0, T_AMB) for _ in range(60)][-1]["soc"][0] for _ in range(hours)]
    sol = solve_ivp(lambda t, s: -_ocv(params, s) / (r_sd * q), (0, hours * 3600.0), [params.initial.soc],
                    t_eval=np.arange(1, hours + 1) * 3600.0, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(soc_twin, sol.y[0], atol=2e-7)  # drain current held over each 60 s step
    assert params.initial.soc - soc_twin[-1] > 0.05
    y = twin.step(0.0, 1.0, T_AMB)
    ocv = _ocv(params, y["soc"][0])
    assert y["power_dissipated_W"][0] == pytest.approx(ocv ** 2 / r_sd, rel=1e-6)


def test_directional_tables_use_the_charge_table_while_charging():
    params = simple_cell(n_rc=0, r0_ohm=1e-3, r0_charge_ohm=3e-3)
    for current, r0 in ((50.0, 1e-3), (-50.0, 3e-3)):
        twin = CellECMTwin(params)
        y = twin.step(current, 1e-3, T_AMB)
        assert y["ocv_V"][0] - y["voltage_V"][0] == pytest.approx(current * r0, rel=1e-9)


def test_rc_branch_charge_tables():
    params = simple_cell(n_rc=1, rc_branches=[{"resistance_ohm": 1e-3, "time_constant_s": 10.0,
                                               "resistance_charge_ohm": 2e-3, "time_constant_charge_s": 40.0}])
    for current, r, tau in ((20.0, 1e-3, 10.0), (-20.0, 2e-3, 40.0)):
        twin = CellECMTwin(params)
        y = twin.step(current, 25.0, T_AMB)
        assert y["rc_voltage_1_V"][0] == pytest.approx(r * current * (1 - np.exp(-25.0 / tau)), rel=1e-12)


def test_many_cells_in_one_call_equal_single_cell_runs(rng):
    params = simple_cell(n_rc=2, thermal={"model": "lumped", "mass_J_per_K": 500.0, "heat_transfer_W_per_K": 2.0})
    caps = rng.uniform(0.9, 1.1, 16) * params.nominal_capacity_As
    currents = rng.uniform(-50, 80, (100, 16))
    many = CellECMTwin(params, n_cells=16, overrides={"nominal_capacity_As": caps})
    out = np.array([many.step(i, 1.0, T_AMB)["voltage_V"] for i in currents])
    for c in (0, 7, 15):
        one = CellECMTwin(params, overrides={"nominal_capacity_As": caps[c]})
        ref = [one.step(i, 1.0, T_AMB)["voltage_V"][0] for i in currents[:, c]]
        np.testing.assert_allclose(out[:, c], ref, rtol=1e-14)


def test_instantaneous_hysteresis_dissipates_on_every_step_including_reversals():
    """With only M0 (M = 0) the hysteresis takes |I| M0 from the circuit in every step, also the
    first step after the current reverses (S follows the step's current)."""
    m0 = 0.05
    params = simple_cell(n_rc=0, hysteresis={"rate": 10.0, "max_voltage_V": 0.0, "instantaneous_voltage_V": m0})
    twin = CellECMTwin(params)
    for current in (50.0, 50.0, -50.0, -50.0, 30.0, -20.0):
        y = twin.step(current, 10.0, T_AMB)
        assert y["power_dissipated_W"][0] == pytest.approx(current ** 2 * 1e-3 + abs(current) * m0, rel=1e-12)
