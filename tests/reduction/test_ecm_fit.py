"""The ECM fit recovers known tables from data made by the fmutwin cell twin itself.

The data come from :class:`CellECMTwin` (the full twin step, not the fit's own design matrix),
driven by HPPC pulses and a UDDS cycle; the truth has SOC-dependent R0, R1, R2 and time
constants that vary linearly in SOC. Noise-free data must give back the truth almost exactly
where the data reach; with 1 mV noise within stated tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest

from fmutwin.params.cell import CellParameters
from fmutwin.reduction.ecm_fit import FitSettings, fit_data, fit_temperature
from fmutwin.reduction.experiments import constant_current_profile, drive_cycle_profile, hppc_profile
from fmutwin.twins.cell_ecm import CellECMTwin

CAPACITY_AH = 5.0
SOC = [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]
OCV_SOC = np.linspace(0.0, 1.0, 41)
OCV = 3.0 + 1.2 * OCV_SOC - 0.25 * np.exp(-20 * OCV_SOC) + 0.05 * np.sin(6 * OCV_SOC)
S = np.asarray(SOC)
R0 = 0.02 + 0.015 * (1 - S) ** 2
R1 = 0.008 + 0.004 * S
R2 = 0.012 + 0.01 * (S - 0.5) ** 2
R3 = 0.006 + 0.002 * S
TAU1 = (8.0, 14.0)  # at SOC 0 and 1
TAU2 = (150.0, 260.0)
COVERED = (S >= 0.1) & (S <= 0.9)  # SOC nodes the experiments visit
#: true (resistance over SOC, time constants at SOC 0 and 1) of each branch, for 1, 2 and 3 RC pairs
BRANCHES = {1: [(R1, (60.0, 90.0))],
            2: [(R1, TAU1), (R2, TAU2)],
            3: [(R1, (3.0, 5.0)), (R2, (40.0, 70.0)), (R3, (600.0, 900.0))]}


def truth(n_rc: int = 2) -> CellParameters:
    return CellParameters.from_dict({
        "name": "truth", "source": "test", "nominal_capacity_As": CAPACITY_AH * 3600,
        "ocv_V": {"soc": OCV_SOC.tolist(), "values": OCV.tolist()},
        "r0_ohm": {"soc": SOC, "values": R0.tolist()},
        "rc_branches": [{"resistance_ohm": {"soc": SOC, "values": r.tolist()},
                         "time_constant_s": {"soc": [0.0, 1.0], "values": list(tau)}} for r, tau in BRANCHES[n_rc]],
        "thermal": {"model": "constant", "mass_J_per_K": 40.0, "heat_transfer_W_per_K": 0.05}})


def experiments(noise_V: float, n_rc: int = 2) -> list:
    params = truth(n_rc)
    rng = np.random.default_rng(7)
    out = []
    for profile in (hppc_profile(CAPACITY_AH), drive_cycle_profile("UDDS", CAPACITY_AH, 0.7)):
        p = params.with_changes(initial={"soc": profile.initial_soc, "temperature_K": 298.15})
        voltage = CellECMTwin(p).run(profile.time_s, profile.current_A)["voltage_V"]
        voltage = voltage + noise_V * rng.standard_normal(voltage.size)
        out.append(fit_data(profile.name, profile.time_s, profile.current_A, voltage, profile.initial_soc,
                            CAPACITY_AH * 3600, OCV_SOC, OCV))
    return out


@pytest.mark.parametrize("n_rc", [1, 2, 3])
def test_noise_free_data_give_back_the_tables(n_rc: int) -> None:
    fit = fit_temperature(experiments(0.0, n_rc), 298.15,
                          FitSettings(n_rc=n_rc, soc_grid=tuple(SOC), tau_soc_grid=(0.0, 1.0), smoothing=1e-9,
                                      max_nfev=200))
    np.testing.assert_allclose(fit.r0_ohm[COVERED], R0[COVERED], rtol=1e-3)
    for i, (r, tau) in enumerate(BRANCHES[n_rc]):
        np.testing.assert_allclose(fit.time_constant_s[i], tau, rtol=1e-3)
        np.testing.assert_allclose(fit.resistance_ohm[i][COVERED], r[COVERED], rtol=1e-3)
    assert max(r["rms_V"] for r in fit.residuals.values()) < 1e-5


def test_noisy_data_give_the_tables_within_tolerance() -> None:
    """1 mV white noise: R0 within 3 %, branch resistances within 10 %, time constants within 10 %
    on the visited SOC range; residual RMS at the noise level."""
    fit = fit_temperature(experiments(1e-3), 298.15, FitSettings(n_rc=2, soc_grid=tuple(SOC), tau_soc_grid=(0.0, 1.0)))
    np.testing.assert_allclose(fit.r0_ohm[COVERED], R0[COVERED], rtol=0.03)
    np.testing.assert_allclose(fit.resistance_ohm[0][COVERED], R1[COVERED], rtol=0.10)
    np.testing.assert_allclose(fit.resistance_ohm[1][COVERED], R2[COVERED], rtol=0.10)
    np.testing.assert_allclose(fit.time_constant_s, [TAU1, TAU2], rtol=0.10)
    for r in fit.residuals.values():
        assert 0.8e-3 < r["rms_V"] < 1.2e-3


def test_bad_settings_and_data_name_the_field() -> None:
    with pytest.raises(ValueError, match="n_rc"):
        FitSettings(n_rc=4)
    with pytest.raises(ValueError, match="soc_grid"):
        FitSettings(soc_grid=(0.0, 0.5, 0.4))
    with pytest.raises(ValueError, match="voltage_V"):
        fit_data("x", np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0]), np.array([3.7, np.nan]), 0.5, 3600.0,
                 OCV_SOC, OCV)


B_CT = 0.02 + 0.01 * S  # charge-transfer scale b(SOC) [V]
I_CT, K_E, TAU_E = 4.0, 0.004, 120.0  # reference current [A], concentration coefficient [V/C^3], tau_e [s]


def test_noise_free_nonlinear_data_give_back_the_overpotentials() -> None:
    """A truth with the charge-transfer and concentration overpotentials, driven by pulses to 3C
    and constant-current discharges at 1C and 2.5C from SOC 0.95 to 0.15: b, I_ct,
    k_e and tau_e come back, and the linear fit of the same data is far worse."""
    params = CellParameters.from_dict({
        **truth(2).model_dump(exclude_none=True),
        "charge_transfer": {"voltage_V": {"soc": SOC, "values": B_CT.tolist()}, "current_A": I_CT},
        "concentration": {"coefficient_V": K_E, "time_constant_s": TAU_E}})
    profiles = [hppc_profile(CAPACITY_AH, (0.9, 0.7, 0.5, 0.3, 0.15), (0.5, 1.0, 3.0), (0.5, 1.0, 3.0)),
                drive_cycle_profile("UDDS", CAPACITY_AH, 0.7, peak_c_rate=3.0)]
    profiles += [constant_current_profile(CAPACITY_AH, rate, 0.95).head(int(400 * 0.8 / 0.95)) for rate in (1.0, 2.5)]
    data = []
    for profile in profiles:
        p = params.with_changes(initial={"soc": profile.initial_soc, "temperature_K": 298.15})
        voltage = CellECMTwin(p).run(profile.time_s, profile.current_A)["voltage_V"]
        data.append(fit_data(profile.name, profile.time_s, profile.current_A, voltage, profile.initial_soc,
                             CAPACITY_AH * 3600, OCV_SOC, OCV))
    settings = FitSettings(n_rc=2, soc_grid=tuple(SOC), tau_soc_grid=(0.0, 1.0), smoothing=1e-9, max_nfev=200,
                           charge_transfer=True, concentration=True)
    fit = fit_temperature(data, 298.15, settings)
    assert max(r["rms_V"] for r in fit.residuals.values()) < 1e-5
    assert fit.charge_transfer_current_A == pytest.approx(I_CT, rel=1e-3)
    np.testing.assert_allclose(fit.charge_transfer_voltage_V[COVERED], B_CT[COVERED], rtol=1e-3)
    assert fit.concentration_coefficient_V == pytest.approx(K_E, rel=1e-3)
    assert fit.concentration_time_constant_s == pytest.approx(TAU_E, rel=1e-3)
    assert fit.bounds_hit == []
    linear = fit_temperature(data, 298.15, FitSettings(n_rc=2, soc_grid=tuple(SOC), tau_soc_grid=(0.0, 1.0),
                                                       smoothing=1e-9, max_nfev=200))
    assert max(r["rms_V"] for r in linear.residuals.values()) > 2e-3
