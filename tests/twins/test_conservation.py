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
