"""Conservation over a drive cycle: charge, electrical energy and heat, and step-size independence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from cells import make_cell, simple_cell
from fmutwin.data import drive_cycle
from fmutwin.params import default_cell_parameters
from fmutwin.twins import CellECMTwin

T_AMB = 298.15


@pytest.fixture(scope="module")
def us06():
    return drive_cycle("US06", scale=10.0)


def test_charge_drawn_equals_capacity_times_soc_change(us06):
    time_s, current = us06
    twin = CellECMTwin(default_cell_parameters())
    out = twin.run(time_s, current, T_AMB)
    drawn = np.sum(current[:-1] * np.diff(time_s))
    q = default_cell_parameters().nominal_capacity_As
    assert drawn == pytest.approx(q * (0.5 - out["soc"][-1]), rel=1e-12)
    assert out["charge_As"][-1] == pytest.approx(q * out["soc"][-1], rel=1e-14)


def _ocv_integral(params, soc_a, soc_b):
    """Independent: integral of the OCV table over SOC by adaptive quadrature."""
    g, v = np.asarray(params.ocv_V.soc), np.asarray(params.ocv_V.values)
    return quad(lambda s: float(np.interp(s, g, v)), soc_b, soc_a, points=g[(g > min(soc_a, soc_b))
                & (g < max(soc_a, soc_b))], limit=500, epsabs=1e-15, epsrel=1e-14)[0]


def test_electrical_energy_balance(us06):
    """Q * integral(OCV dSOC) = terminal energy + resistive losses + energy left in the capacitors.

    SOC-dependent OCV and R0 (the default 2-D tables), two RC branches with constant C.
    """
    time_s, current = us06
    params = simple_cell(n_rc=2, r0_ohm=default_cell_parameters().r0_ohm.model_dump())
    twin = CellECMTwin(params)
    out = twin.run(time_s, current, T_AMB)
    q = params.nominal_capacity_As
    chemical = q * _ocv_integral(params, params.initial.soc, out["soc"][-1])
    capacitors = sum(0.5 * (10.0 ** (i + 1) / (1e-3 * (i + 1))) * out[f"rc_voltage_{i + 1}_V"][-1] ** 2
                     for i in range(2))
    terminal, losses = out["terminal_energy_J"][-1], out["heat_generated_J"][-1]
    assert terminal + losses + capacitors == pytest.approx(chemical, rel=1e-9)
    assert losses > 1e-3 * chemical and capacitors > 1e-6 * chemical  # every term matters
    # terminal energy is the integral of V I: close to the rectangle sum of the outputs
    rectangle = np.sum(out["voltage_V"] * current[:-1] * np.diff(time_s))
    assert terminal == pytest.approx(rectangle, rel=1e-3)


def test_heat_generated_equals_losses_and_warms_the_mass(us06):
    """Adiabatic lumped cell: C dT = integral of heat = sum of the step heat rates times dt."""
    time_s, current = us06
    params = make_cell(thermal={"model": "lumped", "mass_J_per_K": 600.0, "heat_transfer_W_per_K": 0.0})
    twin = CellECMTwin(params)
    out = twin.run(time_s, current * 3.0, T_AMB)
    heat = out["heat_generated_J"][-1]
    assert np.sum(out["heat_generation_W"] * np.diff(time_s)) == pytest.approx(heat, rel=1e-12)
    assert 600.0 * (out["temperature_K"][-1] - T_AMB) == pytest.approx(heat, rel=1e-9)
    reversible = np.sum(out["reversible_heat_W"] * np.diff(time_s))
    irreversible = np.sum(out["power_dissipated_W"] * np.diff(time_s))
    assert reversible + irreversible == pytest.approx(heat, rel=1e-12)
    assert irreversible > 0 and abs(reversible) > 0


def test_step_size_independence(us06):
    """Piecewise-constant current: dt = 0.1 s and dt = 1 s agree within 0.5 mV at common times."""
    time_s, current = us06
    params = default_cell_parameters()
    coarse = CellECMTwin(params).run(time_s, current, T_AMB)
    fine_t = np.arange(0.0, time_s[-1] + 1e-9, 0.1)
    fine_i = current[np.minimum((fine_t + 1e-9).astype(int), len(current) - 1)]
    fine = CellECMTwin(params).run(fine_t, fine_i, T_AMB)
    at_coarse = fine["voltage_V"][9::10][: len(coarse["voltage_V"])]
    err = np.max(np.abs(at_coarse - coarse["voltage_V"]))
    assert err < 0.5e-3, f"max |dV| = {err * 1e3:.3f} mV"
    assert np.ptp(coarse["voltage_V"]) > 0.02


def _constant_rc_all_features():
    """Every feature of the cell on (hysteresis, self-discharge, internal short, cycling aging of
    capacity and OCV, calendar aging, series-resistance fault, exothermic reaction, current
    interruption), with constant RC resistances and time constants and no resistance aging:
    R_i aged at a fixed tau_i changes C_i = tau_i / R_i, so 1/2 C v^2 would not be a state
    function (measured: 1.4e-9 of the balance over this run)."""
    from cells import all_features
    from fmutwin.params import CellParameters

    d = all_features().model_dump(exclude_none=True)
    d["rc_branches"] = [{"resistance_ohm": 5e-4, "time_constant_s": 30.0},
                        {"resistance_ohm": 2e-4, "time_constant_s": 300.0},
                        {"resistance_ohm": 1e-4, "time_constant_s": 3.0}]
    d["cycling_aging"]["resistance_change_percent"] = 0.0
    return CellParameters.from_dict(d)


def test_electrical_energy_balance_with_every_feature_on(us06):
    """Chemical energy of the OCV source (aged capacity x aged OCV, integrated over each step's
    SOC change by quadrature) = terminal energy + every loss (R0 with the series fault, RC,
    hysteresis, self-discharge, internal short) + energy left in the RC capacitors, after US06 and
    a rest. Measured 2e-14 relative; fails if hysteresis is dropped from the terminal energy."""
    time_s, current = us06
    params = _constant_rc_all_features()
    time_s = np.concatenate([time_s, time_s[-1] + 10.0 * np.arange(1, 3001)])
    current = np.concatenate([current, np.zeros(3000)])
    out = CellECMTwin(params).run(time_s, current, T_AMB)
    assert out["hysteresis_state"].min() < -0.05 and out["reaction_extent"][-1] > 0  # features active
    grid, ocv = np.asarray(params.ocv_V.soc), np.asarray(params.ocv_V.values)
    aging = params.cycling_aging
    soc = np.concatenate([[params.initial.soc], out["soc"]])
    cycles = np.concatenate([[aging.initial_cycles], out["num_cycles"]])
    capacity = np.concatenate([[CellECMTwin(params).step(0.0, 1e-12)["capacity_As"][0]], out["capacity_As"]])
    chemical = 0.0
    for k in range(len(out["soc"])):
        a, b = soc[k], soc[k + 1]
        if a != b:
            kinks = grid[(grid > min(a, b)) & (grid < max(a, b))]
            integral = quad(lambda s: float(np.interp(s, grid, ocv)), b, a, points=kinks if kinks.size else None,
                            limit=200, epsabs=1e-16, epsrel=1e-14)[0]
            chemical += capacity[k] * (1 + aging.ocv_change_percent / 100 * cycles[k] / aging.reference_cycles) * integral
    capacitors = sum(0.5 * br.time_constant_s.array / br.resistance_ohm.array * out[f"rc_voltage_{j + 1}_V"][-1] ** 2
                     for j, br in enumerate(params.rc_branches))
    losses = np.sum(out["power_dissipated_W"] * np.diff(time_s))
    assert out["terminal_energy_J"][-1] + losses + capacitors == pytest.approx(chemical, rel=1e-13)


def test_reversible_heat_is_minus_current_temperature_entropic_coefficient(us06):
    """Each step's reversible heat equals -I T dOCV/dT at the step's starting SOC and temperature,
    with dOCV/dT interpolated here (scipy, bilinear) from the file's (SOC, T) table: sign and size."""
    from scipy.interpolate import RegularGridInterpolator

    time_s, current = us06
    params = default_cell_parameters()
    out = CellECMTwin(params).run(time_s, current * 2.0, T_AMB)
    table = params.entropic_coefficient_V_per_K
    dudt = RegularGridInterpolator((table.soc, table.temperature_K), table.array)
    soc = np.concatenate([[params.initial.soc], out["soc"][:-1]])
    temperature = np.concatenate([[params.initial.temperature_K], out["temperature_K"][:-1]])
    expected = -current[:-1] * 2.0 * temperature * dudt(np.column_stack([soc, temperature]))
    np.testing.assert_allclose(out["reversible_heat_W"], expected, rtol=1e-12, atol=1e-15)
    assert np.ptp(expected) > 0.1 and np.any(expected > 0) and np.any(expected < 0)
