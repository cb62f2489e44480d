"""Faults: triggers, internal short, series resistance and open circuit, exothermic reaction
(with the ARC onset criterion reproduced by a simulated heat-wait-seek test), current
interruption and the burnt cell."""

from __future__ import annotations

import numpy as np
import pytest

from cells import simple_cell
from fmutwin.twins import CellECMTwin

T_AMB = 298.15
R_GAS = 8.314462618
EXO = {"onset_temperature_K": 363.15, "activation_energy_J_per_mol": 1.4e5, "reaction_order": 1.0,
       "reaction_heat_J": 4e5, "vented_mass_fraction": 0.0}
LUMPED = {"model": "lumped", "mass_J_per_K": 900.0, "heat_transfer_W_per_K": 0.0}


def _ocv(params, soc):
    return np.interp(soc, params.ocv_V.soc, params.ocv_V.values)


def test_internal_short_starts_at_its_trigger_time_and_drains_the_cell():
    r_short = 0.5
    params = simple_cell(faults={"internal_short": {"trigger": {"kind": "time", "time_s": 10.0},
                                                    "resistance_ohm": r_short}})
    twin = CellECMTwin(params)
    q = params.nominal_capacity_As
    socs = [twin.step(0.0, 1.0, T_AMB)["soc"][0] for _ in range(10)]
    assert socs == [params.initial.soc] * 10
    soc0 = socs[-1]
    y = twin.step(0.0, 1.0, T_AMB)  # step starting at t = 10 s: short active
    ocv0 = _ocv(params, soc0)
    assert soc0 - y["soc"][0] == pytest.approx(ocv0 / r_short / q, rel=1e-6)
    assert y["power_dissipated_W"][0] == pytest.approx(ocv0 ** 2 / r_short, rel=1e-5)


def test_temperature_trigger():
    params = simple_cell(thermal={"model": "lumped", "mass_J_per_K": 100.0, "heat_transfer_W_per_K": 0.0},
                         faults={"series_resistance": {"trigger": {"kind": "temperature", "temperature_K": 300.0},
                                                       "resistance_ohm": 0.01}})
    twin = CellECMTwin(params)
    drops = []
    for _ in range(40):
        y = twin.step(10.0, 1.0, T_AMB, heat_flow_W=10.0)  # +0.1 K/s
        drops.append((y["ocv_V"][0] - y["voltage_V"][0], twin.state["time_s"][0], y["temperature_K"][0]))
    before = [d for d, _, t in drops if t < 299.9]
    after = [d for d, _, t in drops if t > 300.2]
    assert max(before) < 10.0 * 2.0e-3
    assert min(after) == pytest.approx(10.0 * (1e-3 + 0.01) + 10.0 * 1e-3 * 1.0, abs=2e-3)


def test_series_resistance_adds_voltage_drop_and_heat():
    params = simple_cell(n_rc=0, faults={"series_resistance": {"trigger": {"kind": "time", "time_s": 0.0},
                                                               "resistance_ohm": 4e-3}})
    y = CellECMTwin(params).step(50.0, 1.0, T_AMB)
    assert y["ocv_V"][0] - y["voltage_V"][0] == pytest.approx(50.0 * 5e-3, rel=1e-9)
    assert y["power_dissipated_W"][0] == pytest.approx(50.0 ** 2 * 5e-3, rel=1e-9)


def test_open_circuit_interrupts_the_current():
    params = simple_cell(faults={"series_resistance": {"trigger": {"kind": "time", "time_s": 5.0},
                                                       "open_circuit": True}})
    twin = CellECMTwin(params)
    for _ in range(5):
        y = twin.step(50.0, 1.0, T_AMB)
        assert y["current_A"][0] == 50.0
    soc = y["soc"][0]
    for _ in range(5):
        y = twin.step(50.0, 1.0, T_AMB)
        assert y["current_A"][0] == 0.0 and y["soc"][0] == soc
    assert y["voltage_V"][0] == pytest.approx(y["ocv_V"][0] - y["rc_voltage_1_V"][0], abs=1e-12)


def _exo_cell(order=1.0, vent=0.0, thermal=None, **faults):
    exo = {"trigger": {"kind": "time", "time_s": 0.0}, **EXO, "reaction_order": order, "vented_mass_fraction": vent}
    return simple_cell(thermal=thermal or LUMPED, faults={"exothermic_reaction": exo, **faults},
                       initial={"soc": 0.5, "temperature_K": T_AMB})


def _k(t_k):
    """Independent K_scale from the ARC criterion and the Arrhenius rate at t_k."""
    k_scale = 0.02 / 60.0 * LUMPED["mass_J_per_K"] / EXO["reaction_heat_J"] * np.exp(
        EXO["activation_energy_J_per_mol"] / (R_GAS * EXO["onset_temperature_K"]))
    return k_scale * np.exp(-EXO["activation_energy_J_per_mol"] / (R_GAS * t_k))


@pytest.mark.parametrize("order", [1.0, 2.0, 0.5])
def test_reaction_extent_follows_the_exact_solution_at_fixed_temperature(order):
    t_fixed = 430.0
    params = _exo_cell(order, thermal={"model": "constant", "mass_J_per_K": 900.0, "heat_transfer_W_per_K": 0.0})
    twin = CellECMTwin(params)
    twin.step(0.0, 1e-9, t_fixed)  # cell now at the ambient temperature
    k = _k(t_fixed)
    xi0 = twin.state["reaction_extent"][0]
    times = np.arange(1, 60) * 5.0
    xis = [twin.step(0.0, 5.0, t_fixed)["reaction_extent"][0] for _ in times]
    y0 = 1 - xi0
    if order == 1.0:
        ref = 1 - y0 * np.exp(-k * times)
    else:
        ref = 1 - np.maximum(y0 ** (1 - order) - (1 - order) * k * times, 0) ** (1 / (1 - order))
    np.testing.assert_allclose(xis, ref, rtol=1e-9, atol=1e-12)
    assert 0.2 < xis[-1] <= 1.0


def test_arc_heat_wait_seek_finds_the_onset_temperature():
    """Simulated accelerating-rate calorimetry: adiabatic cell, heat in 5 K steps, wait, then seek
    self-heating above 0.02 degC/min. The detected onset is the parameter's onset temperature."""
    params = _exo_cell()
    twin = CellECMTwin(params)
    threshold = 0.02 / 60.0
    detected = None
    while detected is None and twin.outputs.get("temperature_K", [T_AMB])[0] < 450.0:
        for _ in range(25):  # heat: 5 K over 25 s with 180 W into 900 J/K
            twin.step(0.0, 1.0, T_AMB, heat_flow_W=180.0)
        for _ in range(5):  # wait
            twin.step(0.0, 60.0, T_AMB)
        t_start = twin.outputs["temperature_K"][0]
        for _ in range(10):  # seek
            y = twin.step(0.0, 60.0, T_AMB)
        rate = (y["temperature_K"][0] - t_start) / 600.0
        if rate >= threshold:
            detected = t_start
    onset = EXO["onset_temperature_K"]
    assert detected is not None and onset - 0.5 <= detected <= onset + 5.5, detected
    # the criterion itself: at the onset temperature (xi ~ 0) the self-heating is 0.02 degC/min
    assert _k(onset) * EXO["reaction_heat_J"] / LUMPED["mass_J_per_K"] == pytest.approx(threshold, rel=1e-12)


def test_runaway_burns_out_and_opens_the_cell_and_vents_mass():
    params = _exo_cell(vent=0.4)
    twin = CellECMTwin(params)
    twin.state["node_temperature_1_K"][:] = 420.0
    extents, temps, currents = [], [], []
    for _ in range(600):
        y = twin.step(20.0, 1.0, T_AMB)
        extents.append(y["reaction_extent"][0])
        temps.append(y["temperature_K"][0])
        currents.append(y["current_A"][0])
    assert y["is_exotherm_faulted"][0] == 1.0
    assert extents[-1] > 0.999 and np.all(np.diff(extents) >= 0) and max(extents) <= 1.0
    assert currents[0] == 20.0 and currents[-1] == 0.0  # electrically open once burnt
    # Heat released by the reaction raised the (vented, shrinking) mass: with xi -> 1 the
    # temperature rise exceeds H / C, because 40 % of the thermal mass has left.
    assert temps[-1] - 420.0 > EXO["reaction_heat_J"] / LUMPED["mass_J_per_K"]
    heat_rate = y["reaction_heat_W"][0]
    assert heat_rate >= 0


def test_vented_mass_heats_faster():
    """With extent xi the heat capacity is C (1 - f xi): a heat pulse gives dT = P dt / that."""
    params = _exo_cell(vent=0.5)
    twin = CellECMTwin(params)
    twin.state["reaction_extent"][:] = 0.6
    twin.state["exotherm_active"][:] = 0.0
    t0 = twin.state["node_temperature_1_K"][0]
    y = twin.step(0.0, 1.0, T_AMB, heat_flow_W=100.0)
    reaction = y["reaction_heat_W"][0]
    expected = (100.0 + reaction) * 1.0 / (900.0 * (1 - 0.5 * 0.6))
    assert y["temperature_K"][0] - t0 == pytest.approx(expected, rel=1e-9)


def test_current_interruption_above_its_temperature():
    params = simple_cell(thermal={"model": "lumped", "mass_J_per_K": 100.0, "heat_transfer_W_per_K": 0.0},
                         faults={"current_interruption": {"temperature_K": 303.15}})
    twin = CellECMTwin(params)
    flags, currents, temps = [], [], []
    for _ in range(100):
        y = twin.step(30.0, 1.0, T_AMB, heat_flow_W=10.0)
        flags.append(y["is_current_interrupted"][0])
        currents.append(y["current_A"][0])
        temps.append(y["temperature_K"][0])
    first = flags.index(1.0)
    assert all(f == 0.0 for f in flags[:first]) and all(f == 1.0 for f in flags[first:])
    assert all(c == 30.0 for c in currents[:first]) and all(c == 0.0 for c in currents[first:])
    # it opens on the first step that starts at or above the limit
    assert temps[first - 1] >= 303.15 > temps[first - 2]


def test_an_internal_short_in_one_cell_of_a_module():
    """``variation.internal_short_scale`` puts the cell file's short in chosen cells only: at zero
    module current the shorted cell's group loses exactly the short's charge (its parallel
    neighbours discharge into it), every other group keeps its charge, and the shorted cell heats."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from modules import make_module

    from fmutwin.twins.module import ModuleTwin

    r_short = 0.5
    cell = simple_cell(faults={"internal_short": {"trigger": {"kind": "time", "time_s": 5.0},
                                                  "resistance_ohm": r_short}},
                       thermal={"model": "lumped", "mass_J_per_K": 900.0, "heat_transfer_W_per_K": 0.1})
    scale = [0.0] * 6
    scale[4] = 1.0  # element 2 (cells 3, 4, 5), position 1
    twin = ModuleTwin(make_module(2, 3, cell, variation={"internal_short_scale": scale}))
    q = cell.nominal_capacity_As
    soc0 = np.array(twin.state["soc"], dtype=float)
    drawn = 0.0
    for k in range(30):
        y = twin.step(0.0, 1.0)
        if k >= 5:
            drawn += _ocv(cell, y["cell_soc"][4]) / r_short  # about: the OCV moves little in 25 s
    lost = (soc0 - np.array(y["cell_soc"])) * q
    assert np.allclose(lost[:3], 0.0, atol=1e-9 * q)  # element 1: no short, no current
    assert lost[3:].sum() == pytest.approx(drawn, rel=2e-3)
    assert np.all(lost[3:] > 0) and lost[4] > lost[3]  # its neighbours feed it
    assert y["cell_heat_W"][4] > 10 * max(y["cell_heat_W"][0], 1e-9)
