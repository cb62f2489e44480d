"""Parameter sets for tests: the shipped default with features switched on."""

from __future__ import annotations

from typing import Any

from fmutwin.params import CellParameters, default_cell_parameters


def cell_dict(**changes: Any) -> dict[str, Any]:
    """The default parameter set as a dict, top-level keys replaced by ``changes``."""
    data = default_cell_parameters().model_dump(exclude_none=True)
    data.update(changes)
    return data


def make_cell(**changes: Any) -> CellParameters:
    """A validated parameter set: the default with top-level keys replaced."""
    return CellParameters.from_dict(cell_dict(**changes))


def simple_cell(n_rc: int = 1, **changes: Any) -> CellParameters:
    """A cell with constant R and tau tables (analytic references are then exact).

    OCV keeps the default SOC table; R0 = 1 mOhm; branch i has R = i mOhm, tau = 10^i s;
    isothermal at the ambient input; no entropic heat.
    """
    branches = [{"resistance_ohm": 1e-3 * (i + 1), "time_constant_s": 10.0 ** (i + 1)} for i in range(n_rc)]
    base = dict(r0_ohm=1e-3, rc_branches=branches, entropic_coefficient_V_per_K=0.0,
                thermal={"model": "constant", "mass_J_per_K": 1000.0, "heat_transfer_W_per_K": 10.0})
    base.pop("r0_charge_ohm", None)
    data = cell_dict(**{**base, **changes})
    data.pop("r0_charge_ohm", None) if "r0_charge_ohm" not in changes else None
    return CellParameters.from_dict(data)


def all_features() -> CellParameters:
    """Every feature of the cell twin on: 3 RC (directional), the charge-transfer and
    concentration overpotentials, hysteresis, self-discharge, distributed thermal, cycling and
    calendar aging, every fault (triggered early)."""
    d = default_cell_parameters().model_dump(exclude_none=True)
    branch = d["rc_branches"][0]
    d["rc_branches"] = [
        branch,
        {"resistance_ohm": {"soc": [0.0, 0.5, 1.0], "values": [2e-4, 1.5e-4, 2.5e-4]},
         "time_constant_s": {"soc": [0.0, 1.0], "temperature_K": [270.0, 300.0, 330.0],
                             "values": [[400.0, 300.0, 200.0], [450.0, 320.0, 210.0]], "extrapolation": "linear"},
         "resistance_charge_ohm": 1.8e-4},
        {"resistance_ohm": 1e-4, "time_constant_s": 3.0},
    ]
    d["hysteresis"] = {"rate": 20.0, "max_voltage_V": {"soc": [0.0, 0.5, 1.0], "values": [0.03, 0.01, 0.02]},
                       "instantaneous_voltage_V": {"soc": [0.0, 1.0], "values": [0.004, 0.002]}, "initial_state": 0.2}
    d["self_discharge_resistance_ohm"] = {"temperature_K": [273.15, 323.15], "values": [5e3, 1e3]}
    d["charge_transfer"] = {"voltage_V": {"soc": [0.0, 1.0], "values": [0.03, 0.02]},
                            "current_A": {"temperature_K": [273.15, 323.15], "values": [40.0, 120.0]}}
    d["concentration"] = {"coefficient_V": {"temperature_K": [273.15, 323.15], "values": [0.004, 0.002]},
                          "time_constant_s": 80.0}
    d["thermal"] = {"model": "distributed", "mass_J_per_K": 1000.0, "heat_transfer_W_per_K": 10.0, "nodes": 3,
                    "node_conductance_W_per_K": 4.0}
    d["cycling_aging"] = {"reference_cycles": 1000.0, "capacity_change_percent": -20.0,
                          "resistance_change_percent": 40.0, "ocv_change_percent": -1.0, "initial_cycles": 50.0}
    d["calendar_aging"] = {"storage_time_s": 3.15e7, "storage_temperature_K": 308.15, "storage_soc": 0.8,
                           "storage_variable": "ocv", "reference_time_s": 3.15e7, "capacity_loss_percent": 5.0,
                           "resistance_increase_percent": 10.0}
    d["faults"] = {
        "internal_short": {"trigger": {"kind": "time", "time_s": 5.0}, "resistance_ohm": 50.0},
        "series_resistance": {"trigger": {"kind": "time", "time_s": 3.0}, "resistance_ohm": 2e-4},
        "exothermic_reaction": {"trigger": {"kind": "temperature", "temperature_K": 290.0},
                                "onset_temperature_K": 353.15, "activation_energy_J_per_mol": 1.2e5,
                                "reaction_order": 1.5, "reaction_heat_J": 5e5, "vented_mass_fraction": 0.3},
        "current_interruption": {"temperature_K": 400.0},
    }
    return CellParameters.from_dict(d)
