"""The monolithic pack twin against an independent reference: the module and pack-thermal twins
coupled by a fixed-point iteration within every step (a co-simulation iterated to convergence,
which is the pack's coupled backward-Euler step by other means), and against the balances it must
keep."""

from __future__ import annotations

import numpy as np
import pytest

from modules import make_module
from fmutwin.data import drive_cycle
from fmutwin.interface import InputError
from fmutwin.params import ParameterError
from fmutwin.params.pack import PackParameters, PackThermalParameters
from fmutwin.twins.module import ModuleTwin
from fmutwin.twins.pack import PackTwin
from fmutwin.twins.pack_thermal import PackThermalTwin

CP = 3500.0


def _pack(n_modules=3, series_busbar=0.0, **thermal):
    module = make_module(3, 2, variation={
        "capacity_scale": {"kind": "normal", "spread": 0.1, "seed": 1},
        "r0_scale": {"kind": "normal", "spread": 0.1, "seed": 2},
        "initial_temperature_K": {"kind": "uniform", "spread": 3.0, "seed": 3}},
        interconnect={"tab_resistance_ohm": 2e-4, "parallel_busbar_resistance_ohm": 1e-4,
                      "series_busbar_resistance_ohm": series_busbar},
        thermal={"layout": "grid", "columns": 2, "neighbour_conductance_W_per_K": 0.8,
                 "cold_plate_conductance_W_per_K": 3.0})
    thermal_params = PackThermalParameters.from_dict({
        "name": "test", "source": "test", "n_modules": n_modules, "plate_heat_capacity_J_per_K": 300.0,
        "plate_to_coolant_W_per_K": [20.0, 30.0, 40.0][:n_modules], "plate_to_enclosure_W_per_K": 2.0,
        "enclosure_heat_capacity_J_per_K": 3000.0, **thermal})
    return PackParameters(name="test", source="test", module=module, n_modules=n_modules, thermal=thermal_params)


def _iterated_cosimulation(params, time_s, current, flow, inlet, ambient, tolerance_K=1e-13):
    """Module twins and the pack-thermal twin, each step repeated from the saved states with the
    last plate and enclosure temperatures until they stop changing."""
    n = params.module.n_cells
    realised = params.realise().realised
    modules = [ModuleTwin(params.module.model_copy(update={"realised": {k: v[m * n:(m + 1) * n]
                                                                         for k, v in realised.items()}}))
               for m in range(params.n_modules)]
    thermal = PackThermalTwin(params.thermal)
    plates, enclosure = thermal.state["plate_temperature_K"].copy(), float(thermal.state["enclosure_temperature_K"])
    rows, iterations = [], []
    for k in range(len(time_s) - 1):
        dt = time_s[k + 1] - time_s[k]
        saved = [m.get_state() for m in modules], thermal.get_state()
        for iteration in range(100):
            for m, twin in enumerate(modules):
                twin.set_state(saved[0][m])
            thermal.set_state(saved[1])
            ys = [twin.step(current[k], dt, plates[m], enclosure) for m, twin in enumerate(modules)]
            yt = thermal.step(dt, flow, inlet, ambient, [y["heat_to_cold_plate_W"] for y in ys],
                              [y["heat_to_ambient_W"] for y in ys])
            change = max(np.abs(yt["plate_temperature_K"] - plates).max(),
                         abs(yt["enclosure_temperature_K"] - enclosure))
            plates, enclosure = yt["plate_temperature_K"].copy(), float(yt["enclosure_temperature_K"])
            if change < tolerance_K:
                break
        iterations.append(iteration + 1)
        rows.append({"cell_voltage_V": np.concatenate([y["cell_voltage_V"] for y in ys]),
                     "cell_current_A": np.concatenate([y["cell_current_A"] for y in ys]),
                     "cell_temperature_K": np.concatenate([y["cell_temperature_K"] for y in ys]),
                     "pack_voltage_V": sum(y["module_voltage_V"] for y in ys),
                     "plate_temperature_K": plates, "enclosure_temperature_K": enclosure,
                     "outlet_temperature_K": yt["outlet_temperature_K"]})
    return {key: np.array([r[key] for r in rows]) for key in rows[0]}, iterations


@pytest.mark.parametrize("backend", ["numpy", "compiled"])
def test_the_pack_is_the_iterated_cosimulation_of_its_modules_and_thermal_system(backend):
    """Both backends: the numpy string of all cells, and the modules' compiled code."""
    time_s, current = drive_cycle("US06", scale=40.0)  # a 2p pack of 100 Ah cells: peaks about 1.6C
    time_s, current = time_s[:201], current[:200]
    params = _pack()
    pack = PackTwin(params, backend).run(time_s, current, coolant_flow_kg_per_s=0.02, coolant_inlet_temperature_K=293.15,
                                ambient_temperature_K=303.15)
    ref, iterations = _iterated_cosimulation(params, time_s, current, 0.02, 293.15, 303.15)
    assert max(iterations) > 3  # the coupling is real: the co-simulation needs iterations to converge
    # measured: 1e-12 K, 2e-15 V, 3e-12 A, 1e-14 V (rounding, and the iteration's 1e-13 K tolerance)
    for key, tol in (("cell_temperature_K", 1e-11), ("plate_temperature_K", 1e-11), ("enclosure_temperature_K", 1e-11),
                     ("outlet_temperature_K", 1e-11), ("cell_voltage_V", 2e-14), ("cell_current_A", 3e-11),
                     ("pack_voltage_V", 2e-13)):
        assert np.abs(pack[key] - ref[key]).max() < tol, key
    # and the temperatures moved enough for a wrong coupling to show
    assert np.ptp(pack["cell_temperature_K"]) > 3.0 and np.ptp(pack["plate_temperature_K"][-1]) > 0.01


@pytest.mark.parametrize("backend", ["numpy", "compiled"])
def test_the_balances_of_the_pack(backend):
    """What each module's cells generate and do not store is the heat it gives its plate and the
    enclosure (step means); the coolant carries what the plates give it; with a series busbar the
    pack voltage is the modules' less the busbars between them, whose losses the cells share (the
    compiled modules: each its share of the string's)."""
    params = _pack(series_busbar=1e-4)
    twin = PackTwin(params, backend)
    r_sb = 1e-4
    mass = params.module.cell.thermal.mass_J_per_K
    before = twin.state["node_temperature_1_K"].copy()
    for k in range(30):
        y = twin.step(150.0 if k < 20 else -80.0, 2.0, 0.05 if k < 25 else 0.0, 293.15, 303.15)
        kept = (y["cell_heat_W"] - mass * (y["cell_temperature_K"] - before) / 2.0).reshape(3, 6).sum(1)
        before = y["cell_temperature_K"].copy()
        assert y["module_heat_to_plate_W"] + y["module_heat_to_enclosure_W"] == pytest.approx(kept, rel=1e-9,
                                                                                              abs=1e-9)
        if k < 25:
            assert 0.05 * CP * (y["outlet_temperature_K"] - 293.15) == pytest.approx(y["heat_to_coolant_W"], rel=1e-12)
        else:
            assert abs(y["heat_to_coolant_W"]) < 1e-6  # no flow carries (next to) nothing
        assert y["pack_voltage_V"] == pytest.approx(y["module_voltage_V"].sum() - 2 * r_sb * y["pack_current_A"],
                                                    rel=1e-14)
        assert y["cell_mean_current_A"].reshape(9, 2).sum(1) == pytest.approx(np.full(9, y["pack_current_A"]),
                                                                               rel=1e-12)
        tab = 2e-4 * y["cell_mean_current_A"] ** 2
        parallel = 1e-4 * y["cell_mean_current_A"].reshape(9, 2)[:, 1] ** 2
        assert y["interconnect_loss_W"] == pytest.approx(tab.sum() + parallel.sum() + 8 * r_sb * y["pack_current_A"] ** 2,
                                                         rel=1e-12)
    assert np.all(np.isfinite(y["plate_temperature_K"]))


def test_the_compiled_backend_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="backend must be 'numpy' or 'compiled'"):
        PackTwin(_pack(), "numba")
    params = _pack()
    cell = params.module.cell.model_dump(exclude_none=True)
    cell["faults"] = {"current_interruption": {"temperature_K": 400.0}}
    module = params.module.model_copy(update={"cell": type(params.module.cell).from_dict(cell)})
    with pytest.raises(ValueError, match="current-interruption fault .* use backend 'numpy'"):
        PackTwin(params.model_copy(update={"module": module}), "compiled")


def test_a_power_demand_is_met_with_the_voltage_of_the_last_step():
    twin = PackTwin(_pack())
    v0 = twin.voltage_V
    assert twin.time_s == 0.0 and not twin.outputs  # looking at the rest voltage does not step
    y = twin.step_power(5000.0, 1.0, 0.05, 298.15, 298.15)
    assert y["pack_current_A"] == pytest.approx(5000.0 / v0, rel=1e-14)
    y2 = twin.step_power(5000.0, 1.0, 0.05, 298.15, 298.15)
    assert y2["pack_current_A"] == pytest.approx(5000.0 / y["pack_voltage_V"], rel=1e-14)
    assert y2["pack_power_W"] == pytest.approx(5000.0, rel=2e-3)  # off by the voltage's change over the step


@pytest.mark.parametrize("kwargs, expect", [
    ({"current_A": float("nan")}, "current_A"),
    ({"coolant_flow_kg_per_s": -0.1}, "coolant_flow_kg_per_s"),
    ({"ambient_temperature_K": -3.0}, "ambient_temperature_K"),
    ({"bleed": [1, 0]}, "bleed"),
    ({"bleed": [0.5] * 9}, "bleed"),
])
def test_bad_input_is_refused_and_the_state_kept(kwargs, expect):
    twin = PackTwin(_pack())
    twin.step(10.0, 1.0, 0.05, 298.15, 298.15)
    state = twin.get_state()
    args = {"current_A": 10.0, "dt_s": 1.0, "coolant_flow_kg_per_s": 0.05, "coolant_inlet_temperature_K": 298.15,
            "ambient_temperature_K": 298.15, **kwargs}
    with pytest.raises(InputError, match=expect):
        twin.step(**args)
    assert all(np.array_equal(state[k], twin.state[k]) for k in state)


def test_pack_files_name_the_field_and_realise_the_variation_over_the_pack(tmp_path):
    params = _pack()
    with pytest.raises(ValueError, match="thermal.n_modules"):
        PackParameters(name="x", source="x", module=params.module, n_modules=2, thermal=params.thermal)
    realised = params.realise().realised
    assert all(len(v) == 18 for v in realised.values())
    capacity = np.array(realised["capacity_scale"])
    assert capacity.std() > 0.03 and len(set(capacity)) == 18  # drawn over the pack, not repeated per module
    path = tmp_path / "pack.json"
    path.write_text(params.realise().model_dump_json())
    again = PackParameters.model_validate_json(path.read_text())
    assert again.realised == realised
    explicit = params.module.model_copy(update={"variation": params.module.variation.model_copy(
        update={"capacity_scale": [1.0, 0.9, 1.0, 1.0, 1.1, 1.0]})}, deep=True)
    pack = PackParameters(name="x", source="x", module=explicit, n_modules=3, thermal=params.thermal).realise()
    assert pack.realised["capacity_scale"] == [1.0, 0.9, 1.0, 1.0, 1.1, 1.0] * 3  # explicit values repeat per module
    with pytest.raises(ParameterError, match="capacity_scale"):
        PackParameters.from_dict({**params.model_dump(), "realised": {"capacity_scale": [1.0] * 5}})
