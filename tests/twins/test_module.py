"""The module twin (Ns x Np cells) against independent references: the cell twin (1x1, identical
cells), an independently written DAE of the same circuit (Kirchhoff's laws, scipy), conservation
of charge and energy, hand-derived thermal steady states, and the physics of weak, warm and
balanced cells."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.interpolate import RegularGridInterpolator

from cells import make_cell, simple_cell
from modules import make_module, one_direction_cell
from fmutwin.data import drive_cycle
from fmutwin.interface import InputError
from fmutwin.params import ParameterError, default_cell_parameters
from fmutwin.twins import CellECMTwin
from fmutwin.equations.module import SPLIT_EXIT_V
from fmutwin.twins.module import ModuleTwin

T_AMB = 298.15


@pytest.fixture(scope="module")
def us06():
    return drive_cycle("US06", scale=10.0)  # per cell of the 100 Ah default: peaks about 0.8C


def test_a_1x1_module_is_the_cell_twin(us06):
    time_s, current = us06
    out = ModuleTwin(make_module(1, 1)).run(time_s, current)
    ref = CellECMTwin(default_cell_parameters()).run(time_s, current)
    np.testing.assert_allclose(out["module_voltage_V"], ref["voltage_V"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["cell_soc"], ref["soc"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(out["cell_temperature_K"], ref["temperature_K"], rtol=0, atol=1e-11)


def test_identical_cells_split_evenly_and_each_is_the_cell_at_i_over_np(us06):
    time_s, current = us06
    out = ModuleTwin(make_module(3, 4)).run(time_s, current * 4)
    ref = CellECMTwin(default_cell_parameters()).run(time_s, current)
    np.testing.assert_array_equal(out["cell_mean_current_A"], np.repeat(current[:-1, None], 12, axis=1))
    np.testing.assert_allclose(out["cell_voltage_V"], np.repeat(ref["voltage_V"][:, None], 12, axis=1), atol=1e-12)
    np.testing.assert_allclose(out["module_voltage_V"], 3 * ref["voltage_V"], atol=1e-11)


# -- an independent reference: the circuit written from Kirchhoff's laws, solved by scipy ----------

DAE_CAPACITY = [1.1, 0.9, 1.0, 0.95, 1.05, 0.92, 1.08, 1.0]  # 10 % variation of capacity ...
DAE_RESISTANCE = [0.9, 1.1, 1.0, 1.05, 0.95, 1.1, 0.9, 1.0]  # ... and of R0 and R1
R_TAB, R_PB, R_SB = 2e-4, 1e-4, 1e-4


def _kirchhoff_reference(time_s, current, cell):
    """2s4p of one-RC cells, isothermal: per element OCV_j - I_j (R0_j + r_tab) - v_j - (D I)_j = V_e
    (D_jm = r_pb min(j, m): busbar segments towards the tap at cell 0) and sum_j I_j = I; dSOC_j/dt
    = -I_j / Q_j, dv_j/dt = (I_j R1_j - v_j) / tau_j with the tables at the present SOC (scipy's
    RegularGridInterpolator), solved by Radau at rtol 1e-10. Returns per step the charge-average
    currents, the currents and module voltage at the step's end, and the step-average voltage."""
    def table(tab):
        if tab.temperature_K is None:
            return lambda s: np.interp(s, tab.soc, tab.values)
        f = RegularGridInterpolator((tab.soc, tab.temperature_K), tab.array)
        return lambda s: f(np.column_stack([np.clip(s, tab.soc[0], tab.soc[-1]), np.full(np.size(s), T_AMB)]))

    ocv, r0 = table(cell.ocv_V), table(cell.r0_ohm)
    r1, tau = table(cell.rc_branches[0].resistance_ohm), table(cell.rc_branches[0].time_constant_s)
    q = cell.nominal_capacity_As * np.array(DAE_CAPACITY)
    scale = np.array(DAE_RESISTANCE)
    d = R_PB * np.minimum.outer(np.arange(4), np.arange(4))

    def split(soc, v, i):
        out, node = np.empty(8), np.empty(2)
        for e in range(2):
            sl = slice(4 * e, 4 * e + 4)
            a = np.zeros((5, 5))
            a[:4, :4] = np.diag(r0(soc[sl]) * scale[sl] + R_TAB) + d
            a[:4, 4] = a[4, :4] = 1.0
            x = np.linalg.solve(a, np.concatenate([ocv(soc[sl]) - v[sl], [i]]))
            out[sl], node[e] = x[:4], x[4]
        return out, node.sum() - R_SB * i

    def rhs(_, y, i):
        cur, volts = split(y[:8], y[8:16], i)
        return np.concatenate([-cur / q, (cur * r1(y[:8]) * scale - y[8:16]) / tau(y[:8]), cur, [volts]])

    y = np.concatenate([np.full(8, cell.initial.soc), np.zeros(17)])
    rows = []
    for k in range(len(time_s) - 1):
        dt = time_s[k + 1] - time_s[k]
        y_new = solve_ivp(rhs, (time_s[k], time_s[k + 1]), y, args=(current[k],), method="Radau", rtol=1e-10,
                          atol=1e-12).y[:, -1]
        end_currents, end_voltage = split(y_new[:8], y_new[8:16], current[k])
        rows.append(((y_new[16:24] - y[16:24]) / dt, end_currents, end_voltage, (y_new[24] - y[24]) / dt))
        y = y_new
    return [np.array(column) for column in zip(*rows)]


@pytest.mark.slow
def test_split_and_voltage_equal_an_independent_kirchhoff_solve(us06):
    """2s4p, 10 % variation, tab and busbar resistances, over US06 (peaks 0.8C per cell).
    Measured: end-of-step voltage 1.7e-4 mV, end-of-step currents 0.47 mA, step-average voltage
    1.0e-3 mV; step-average currents 0.32 mA RMS, 1.9 mA at the largest current jumps (a cell's
    current is constant within a step, the circuit's is not)."""
    time_s, current = us06
    cell = one_direction_cell(thermal={"model": "lumped", "mass_J_per_K": 1e9, "heat_transfer_W_per_K": 0.0})
    params = make_module(2, 4, cell=cell, variation={"capacity_scale": DAE_CAPACITY, "r0_scale": DAE_RESISTANCE,
                                                     "rc_resistance_scale": DAE_RESISTANCE},
                         interconnect={"tab_resistance_ohm": R_TAB, "parallel_busbar_resistance_ohm": R_PB,
                                       "series_busbar_resistance_ohm": R_SB})
    out = ModuleTwin(params).run(time_s, current * 4, T_AMB, T_AMB)
    mean_i, end_i, end_v, mean_v = _kirchhoff_reference(time_s, current * 4, cell)
    assert np.ptp(out["cell_current_A"], axis=1).max() > 40.0  # the cells really differ
    assert np.max(np.abs(out["module_voltage_V"] - end_v)) < 5e-7
    assert np.max(np.abs(out["cell_current_A"] - end_i)) < 1e-3
    assert np.max(np.abs(out["module_mean_voltage_V"] - mean_v)) < 3e-6
    di = out["cell_mean_current_A"] - mean_i
    assert np.sqrt(np.mean(di ** 2)) < 6e-4 and np.max(np.abs(di)) < 4e-3


# -- conservation -----------------------------------------------------------------------------------

def _varied(n_series, n_parallel, **changes):
    return make_module(n_series, n_parallel, variation={
        "capacity_scale": {"kind": "normal", "spread": 0.1, "seed": 1}, "r0_scale": {"kind": "normal", "spread": 0.1,
                                                                                   "seed": 2},
        "initial_soc": {"kind": "uniform", "spread": 0.05, "seed": 3}},
        interconnect={"tab_resistance_ohm": 2e-4, "parallel_busbar_resistance_ohm": 1e-4,
                      "series_busbar_resistance_ohm": 1e-4}, **changes)


def test_currents_sum_to_the_element_current_with_its_bleed_current(us06):
    """Each element's cells carry the module current plus its bleed current (V_e / R_bleed when on):
    exactly without bleeding; with it, the bleed current squared times R_bleed is the bleed loss.
    The split converges below SPLIT_EXIT_V (where numpy stops iterating; 100x below the 1e-9 V
    required), and the currents sum exactly at the step's end as well."""
    time_s, current = us06
    twin = ModuleTwin(_varied(3, 4))
    bleed = np.array([1.0, 0.0, 1.0])
    for k in range(120):
        y = twin.step(current[k] * 4, 1.0, bleed=bleed)
        extra = y["cell_mean_current_A"].reshape(3, 4).sum(axis=1) - current[k] * 4
        assert abs(extra[1]) <= 1e-12 * max(1.0, abs(current[k] * 4))
        assert np.all((0.1 < extra[[0, 2]]) & (extra[[0, 2]] < 0.15))  # about 3.7 V / 30 Ohm
        assert np.sum(extra[[0, 2]] ** 2) * 30.0 == pytest.approx(y["bleed_loss_W"], rel=1e-9)
        assert y["split_residual_V"] < SPLIT_EXIT_V
        end = y["cell_current_A"].reshape(3, 4).sum(axis=1) - current[k] * 4  # at the step's end: V_e there
        np.testing.assert_allclose(end, bleed * y["element_voltage_V"] / 30.0, rtol=0, atol=1e-11)


def test_energy_of_the_cells_is_the_terminal_energy_plus_losses(us06):
    """sum over cells of the energy their terminals gave = module energy (step-average voltage x
    current) + tab and busbar losses + bleed losses, over US06 with bleeding elements."""
    time_s, current = us06
    twin = ModuleTwin(_varied(3, 4))
    bleed = np.array([1.0, 0.0, 1.0])
    out = twin.run(time_s, current * 4, bleed=bleed)
    dt = np.diff(time_s)
    cells = twin.state["terminal_energy_J"].sum()
    terminal = np.sum(out["module_mean_voltage_V"] * out["module_current_A"] * dt)
    losses = np.sum((out["interconnect_loss_W"] + out["bleed_loss_W"]) * dt)
    assert terminal + losses == pytest.approx(cells, rel=1e-12)
    assert np.sum(out["bleed_loss_W"] * dt) > 1e-3 * cells and np.sum(out["interconnect_loss_W"] * dt) > 1e-3 * cells
    # charge: each cell's SOC change is its current's integral over its (varied) capacity
    q = twin.params.cell.nominal_capacity_As * np.asarray(twin.params.realised["capacity_scale"])
    drawn = np.sum(out["cell_mean_current_A"] * dt[:, None], axis=0)
    soc0 = np.asarray(twin.params.realised["initial_soc"])
    np.testing.assert_allclose(out["cell_soc"][-1], soc0 - drawn / q, rtol=0, atol=1e-13)


# -- instantaneous hysteresis: a set-valued cell voltage at zero current ---------------------------------

M0 = 0.005  # the instantaneous hysteresis voltage of the cells below [V]


def _hysteresis_cell(m0=M0, simple=True):
    """A cell with instantaneous hysteresis M0 only (no slow hysteresis): V = OCV + M0 S - ...,
    S = -1 after discharge, +1 after charge."""
    hysteresis = {"rate": 20.0, "max_voltage_V": 0.0, "instantaneous_voltage_V": m0, "initial_state": -1.0}
    lumped = {"model": "lumped", "mass_J_per_K": 1000.0, "heat_transfer_W_per_K": 10.0}
    return simple_cell(hysteresis=hysteresis, thermal=lumped) if simple else make_cell(hysteresis={
        **hysteresis, "max_voltage_V": 0.02, "instantaneous_voltage_V": {"soc": [0.0, 1.0], "values": [0.006, 0.003]},
        "initial_state": 0.0})


def _ocv(soc):
    table = default_cell_parameters().ocv_V
    return np.interp(soc, table.soc, table.values)


@pytest.mark.parametrize("soc, circulates", [((0.6, 0.5), True), ((0.503, 0.5), False)])
def test_parallel_cells_at_rest_circulate_only_beyond_their_hysteresis_band(soc, circulates):
    """Two cells at rest after a discharge (S = -1), OCVs apart by dOCV: a cell carries a current
    only where its node voltage leaves its band OCV +- M0. Beyond it (dOCV > 2 M0) the pair
    circulates (dOCV - 2 M0) / (R_a + R_b) at once (by hand: the RC branches hold ~ dt / 2 tau of
    their share in a 1 ms step), the higher cell discharging, the lower now charging (its S
    +1); within it (dOCV < 2 M0) neither carries any current, both at one node voltage inside
    both bands: with M0 = 0 the same pair circulates."""
    r_tab = 2e-4
    twin = ModuleTwin(make_module(1, 2, _hysteresis_cell(), variation={"initial_soc": list(soc)},
                                  interconnect={"tab_resistance_ohm": r_tab}))
    y = twin.step(0.0, 1e-3)
    d_ocv = _ocv(soc[0]) - _ocv(soc[1])
    expected = max(d_ocv - 2 * M0, 0.0) / (2 * (1e-3 + r_tab))
    assert y["cell_mean_current_A"][0] == pytest.approx(expected, rel=2e-4, abs=0)
    assert y["cell_mean_current_A"][1] == -y["cell_mean_current_A"][0]
    if circulates:
        assert expected > 1.0
        np.testing.assert_array_equal(twin.state["hysteresis_sign"], [-1.0, 1.0])
        return
    for _ in range(100):
        y = twin.step(0.0, 1.0)
        np.testing.assert_array_equal(y["cell_mean_current_A"], 0.0)
        np.testing.assert_array_equal(y["cell_voltage_V"], y["element_voltage_V"][0])
        assert np.all(np.abs(y["element_voltage_V"][0] - _ocv(np.array(soc))) <= M0 + 1e-12)
    assert np.all(np.abs(twin.state["hysteresis_sign"]) <= 1.0)
    plain = ModuleTwin(make_module(1, 2, _hysteresis_cell(0.0), variation={"initial_soc": list(soc)},
                                   interconnect={"tab_resistance_ohm": r_tab}))
    assert plain.step(0.0, 1.0)["cell_mean_current_A"][0] > 0.5


@pytest.fixture(scope="module")
def drive_with_rests(us06):
    """US06, a rest, a charge (US06 reversed in sign), a rest: every sign of current and zero."""
    _, current = us06
    current = np.concatenate([current, np.zeros(120), -current[:150], np.zeros(60)])
    return np.arange(len(current) + 1.0), current


@pytest.mark.parametrize("shape", [(1, 1), (3, 4)])
def test_identical_hysteresis_cells_are_the_cell_twin(drive_with_rests, shape):
    """Identical cells with instantaneous and slow hysteresis, through rests: each equals the cell
    twin at I / Np (a 1x1 module: to 1e-12 V)."""
    time_s, current = drive_with_rests
    ns, npar = shape
    cell = _hysteresis_cell(simple=False)
    out = ModuleTwin(make_module(ns, npar, cell)).run(time_s, current * npar)
    ref = CellECMTwin(cell).run(time_s, current)
    for name, ref_name, atol in (("cell_voltage_V", "voltage_V", 1e-12), ("cell_soc", "soc", 1e-14)):
        np.testing.assert_allclose(np.reshape(out[name], (len(current), -1)),
                                   np.repeat(ref[ref_name][:, None], ns * npar, axis=1), rtol=0, atol=atol)


def test_a_varied_module_of_hysteresis_cells_splits_exactly_through_rests(drive_with_rests):
    """3s4p of varied cells with instantaneous hysteresis, interconnects and a bleeding element, over
    US06, rests and a charge: every step's split converges (the twin raises otherwise), cells carry
    the element current (sum to 1e-12 A), the parallel cells' nodes agree at the step's end
    to 1e-9 V, stuck cells carry exactly zero with S inside [-1, 1], and the energy balance holds
    (cell energies = terminal energy + losses, 1e-13)."""
    time_s, current = drive_with_rests
    twin = ModuleTwin(_varied(3, 4, cell=_hysteresis_cell(simple=False)))
    bleed = np.array([1.0, 0.0, 0.0])
    out = twin.run(time_s, current * 4, bleed=bleed)
    i_end, v_cell = out["cell_current_A"].reshape(-1, 3, 4), out["cell_voltage_V"].reshape(-1, 3, 4)
    drops = np.cumsum(np.concatenate([np.zeros_like(i_end[..., :1]),
                                      R_PB * np.cumsum(i_end[..., ::-1], axis=-1)[..., ::-1][..., 1:]], axis=-1),
                      axis=-1)
    nodes = v_cell - R_TAB * i_end - drops
    np.testing.assert_allclose(nodes, np.repeat(out["element_voltage_V"][..., None], 4, axis=-1), rtol=0, atol=1e-9)
    mean = out["cell_mean_current_A"].reshape(-1, 3, 4)
    element = mean.sum(axis=-1)[:, 1:] - current[:, None] * 4
    np.testing.assert_allclose(element, 0.0, rtol=0, atol=1e-12)
    stuck = mean == 0.0
    assert 100 < np.count_nonzero(stuck) < stuck.size / 2
    assert np.all(np.abs(twin.state["hysteresis_sign"]) <= 1.0)
    assert np.count_nonzero(np.abs(twin.state["hysteresis_sign"]) < 1.0) > 0
    dt = np.diff(time_s)
    terminal = np.sum(out["module_mean_voltage_V"] * out["module_current_A"] * dt)
    losses = np.sum((out["interconnect_loss_W"] + out["bleed_loss_W"]) * dt)
    assert terminal + losses == pytest.approx(twin.state["terminal_energy_J"].sum(), rel=1e-13)


# -- thermal ------------------------------------------------------------------------------------------

def test_thermal_steady_state_of_a_three_cell_chain_with_a_cold_plate():
    """3 cells in a row at constant current until steady: the temperatures solve the chain's
    balance, derived by hand (G: neighbour, P: cold plate, H: convection, Q_i the cells' heat):
    (P + H + G) T1 - G T2 = Q1 + P Tp + H Ta, -G T1 + (P + H + 2G) T2 - G T3 = Q2 + ..., and
    symmetrically T3; with Q_i equal, T1 = T3 = Tb + Q / (P + H) - ..., solved in closed form:
    with u = P + H, T2 - T1 = (Q2 - Q1) / (u + 3G) when Q1 = Q3."""
    cell = one_direction_cell(r0_ohm=1e-3, rc_branches=[{"resistance_ohm": 5e-4, "time_constant_s": 20.0}],
                              thermal={"model": "lumped", "mass_J_per_K": 50.0, "heat_transfer_W_per_K": 0.3})
    # constant resistances and no entropic heat: the heat I^2 R0 + I^2 R1 is steady once v_RC is
    g, plate, t_plate, t_amb = 2.0, 1.5, 290.0, 300.0
    twin = ModuleTwin(make_module(3, 1, cell=cell, thermal={"neighbour_conductance_W_per_K": g,
                                                             "cold_plate_conductance_W_per_K": plate},
                                  variation={"r0_scale": [1.0, 2.0, 1.0]}))
    for _ in range(400):  # steady in current and temperature (time constant ~ C / u ~ 30 s)
        y = twin.step(100.0, 5.0, t_plate, t_amb)
    q = y["cell_heat_W"]
    u = plate + 0.3
    t_b = (plate * t_plate + 0.3 * t_amb) / u
    # the hand solution of the symmetric chain (q1 = q3 by symmetry of the module)
    assert q[0] == pytest.approx(q[2], rel=1e-9) and q[1] > 1.05 * q[0]
    t2 = t_b + (q[1] * (u + g) + 2 * g * q[0]) / (u * (u + 3 * g))
    t1 = t_b + (q[0] * (u + 2 * g) + g * q[1]) / (u * (u + 3 * g))
    np.testing.assert_allclose(y["cell_temperature_K"], [t1, t2, t1], rtol=0, atol=1e-11)  # measured 1.7e-13 K
    assert y["heat_to_cold_plate_W"] == pytest.approx(plate * (2 * t1 + t2 - 3 * t_plate), rel=1e-9)


def test_thermal_network_is_stable_for_tiny_masses_and_large_conductances():
    cell = default_cell_parameters().with_changes(thermal={"model": "lumped", "mass_J_per_K": 0.01,
                                                           "heat_transfer_W_per_K": 5.0})
    twin = ModuleTwin(make_module(4, 2, cell=cell, thermal={"neighbour_conductance_W_per_K": 1e4,
                                                             "cold_plate_conductance_W_per_K": 50.0}))
    for _ in range(20):
        y = twin.step(150.0, 1.0, 290.0, 300.0)
    t = y["cell_temperature_K"]
    assert np.all(np.isfinite(t)) and 290.0 < t.min() and t.max() < 300.0 + 10.0
    assert np.ptp(t) < 1e-2  # conduction of 1e4 W/K evens the cells out


# -- physics ---------------------------------------------------------------------------------------------

def test_the_weakest_cell_carries_less_current_at_the_end_and_its_element_ends_first():
    params = make_module(2, 3, variation={"capacity_scale": [0.8, 1, 1, 1, 1, 1]},
                         thermal={"cold_plate_conductance_W_per_K": 100.0})
    twin = ModuleTwin(params)
    out = twin.run(np.arange(3001.0), np.full(3000, 150.0))
    start, end = out["cell_mean_current_A"][0], out["cell_mean_current_A"][-1]
    assert abs(start[0] - start[1]) < 0.1 and end[0] < 0.8 * end[1]  # equal at first, less at the end
    cutoff = 3.45  # the element voltage a BMS would stop at
    first = [int(np.argmax(out["element_voltage_V"][:, e] < cutoff)) for e in range(2)]
    assert 0 < first[0] < first[1] or (first[0] > 0 and not np.any(out["element_voltage_V"][:, 1] < cutoff))


def test_a_cell_that_runs_empty_is_reported_with_its_place_and_time(caplog):
    """The cell of element 1 starts at SOC 0.02: 100 A empties its 2 Ah in 72 s; the warning names
    the cell, where it sits and when (and the step is not refused: the BMS decides)."""
    twin = ModuleTwin(make_module(2, 1, variation={"initial_soc": [0.5, 0.02]}))
    with caplog.at_level("WARNING", logger="fmutwin.twins.module"):
        for _ in range(8):
            y = twin.step(100.0, 10.0)
    messages = [r.getMessage() for r in caplog.records]
    assert messages and all("cell 1 (element 1, position 0): SOC" in m for m in messages)
    assert "left [0.0, 1.0] at t = 80.0 s" in messages[0]  # the first step that ends below 0 (72 s)
    assert y["cell_soc"][1] < 0 < y["cell_soc"][0]


def test_a_warmer_cell_takes_more_current():
    params = make_module(1, 2, variation={"initial_temperature_K": [318.15, 288.15]})
    y = ModuleTwin(params).step(100.0, 1.0, 298.15, 298.15)
    assert y["cell_mean_current_A"][0] > 1.05 * y["cell_mean_current_A"][1]


def test_balancing_reduces_the_soc_spread_of_an_unbalanced_module():
    socs = [0.62, 0.62, 0.50, 0.50, 0.55, 0.55]
    params = make_module(3, 2, variation={"initial_soc": socs}, bleed_resistance_ohm=3.0)
    plain, balanced = ModuleTwin(params), ModuleTwin(params)
    for _ in range(600):
        plain.step(0.0, 60.0)
        y = balanced.step(0.0, 60.0, bleed=[1.0, 0.0, 1.0])
    assert balanced.outputs["cell_soc_spread"] < plain.outputs["cell_soc_spread"] - 0.01
    assert y["bleed_loss_W"] > 0 and y["cell_heat_W"][0] > y["cell_heat_W"][2]


# -- bad input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"current_A": float("nan")}, {"dt_s": 0.0}, {"ambient_temperature_K": -1.0},
                                    {"cold_plate_temperature_K": float("inf")}, {"bleed": [1.0, 0.5]},
                                    {"bleed": [1.0]}])
def test_bad_input_is_refused_and_the_state_kept(kwargs):
    twin = ModuleTwin(make_module(2, 2))
    before = twin.get_state()
    with pytest.raises(InputError):
        twin.step(**{"current_A": 10.0, "dt_s": 1.0, **kwargs})
    after = twin.get_state()
    assert all(np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("shape, changes, expect", [
    ((0, 2), {}, "n_series"), ((2, 0), {}, "n_parallel"),
    ((2, 2), {"variation": {"capacity_scale": [1.0, 1.0]}}, "variation.capacity_scale: 2 values for 4 cells"),
    ((2, 2), {"variation": {"initial_soc": {"kind": "normal", "spread": 2.0, "seed": 0}}}, "initial_soc"),
    ((2, 2), {"cell": default_cell_parameters().with_changes(
        thermal={"model": "constant", "mass_J_per_K": 1.0, "heat_transfer_W_per_K": 0.0})}, "lumped"),
])
def test_bad_module_files_name_the_field(shape, changes, expect):
    with pytest.raises(ParameterError, match=expect):
        make_module(*shape, **changes).realise()


def test_heat_generated_is_stored_or_given_to_the_plate_and_the_ambient(us06):
    """Over US06 with bleeding elements, a warm cold plate and neighbour conduction on a grid:
    the heat the cells generate (their own, interconnect and bleed shares) minus what their masses
    stored is, to round-off, what the module's outputs say went to the cold plate and the ambient
    (step means: end-of-step flows missed about 0.3 % against the fitted storage)."""
    time_s, current = us06
    params = _varied(3, 4, thermal={"layout": "grid", "columns": 4, "neighbour_conductance_W_per_K": 2.0,
                                    "cold_plate_conductance_W_per_K": 1.5})
    twin = ModuleTwin(params)
    t0 = twin.state["node_temperature_1_K"].copy()
    out = twin.run(time_s, current * 4, bleed=np.array([1.0, 0.0, 1.0]), cold_plate_temperature_K=303.15)
    dt = np.diff(time_s)
    generated = np.sum(out["cell_heat_W"] * dt[:, None])
    stored = params.cell.thermal.mass_J_per_K * np.sum(out["cell_temperature_K"][-1] - t0)
    given = np.sum((out["heat_to_cold_plate_W"] + out["heat_to_ambient_W"]) * dt)
    assert abs(generated) > 1e3 and abs(stored) > 0.1 * abs(generated) and abs(given) > 0.1 * abs(generated)
    assert generated - stored == pytest.approx(given, rel=1e-12, abs=1e-9 * abs(generated))
