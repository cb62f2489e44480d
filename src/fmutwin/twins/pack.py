"""The monolithic pack twin: ``n_modules`` modules in series on their cold plates in one coolant
loop with an enclosure, all cells and the thermal system stepped together with numpy, the
electrical-thermal coupling solved inside the step (no co-simulation lag).

It runs the same equations as the module and pack-thermal twins (and their FMUs): the pack's
cells are one string of ``n_modules x Ns`` elements (``equations.module``, vectorised over every
cell of the pack; consecutive elements, also across modules, are joined by the module design's
series busbar), with the thermal network in blocks (the modules do not touch each other). A
cell's cold plate is its module's plate and its ambient is the enclosure, as in the co-simulation
where a module's ``heatToColdPlate`` feeds the pack-thermal ``plateHeat[m]``, its ``heatToAmbient``
feeds ``enclosureHeat[m]``, and the plate and enclosure temperatures feed back.

The coupled step is backward Euler for the whole (cells + plates + enclosure) network: the cells'
temperatures are affine in the plate and enclosure temperatures (one banded solve with
``n_modules + 2`` right-hand sides), which turns the module heat terms of the pack-thermal system
into linear terms of its unknowns; that (n_modules + 1)-square system is solved, and the cells'
temperatures follow. This is exactly the fixed point a co-simulation converges to when it
iterates the module and pack-thermal FMUs within a step. Positive current discharges the pack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fmutwin.equations import module, pack_thermal
from fmutwin.interface import StateError
from fmutwin.ops import NUMPY, TableRangeError
from fmutwin.params.pack import PackParameters
from fmutwin.twins.array_state import ArrayState
from fmutwin.twins.checks import finite_scalars, non_negative, positive, switches
from fmutwin.twins.equation_model import LOOK_STEP_S
from fmutwin.twins.module import checked_result, module_equation_parameters
from fmutwin.twins.pack_compiled import CompiledModules
from fmutwin.twins.pack_thermal import pack_thermal_parameters
from fmutwin.twins.profile import run_profile

#: the pack-thermal twin's state keys, kept beside the cells' in the pack's state
THERMAL_STATE = ("enclosure_temperature_K", "plate_temperature_K")


class PackTwin(ArrayState):
    """A pack of ``n_modules`` modules of Ns x Np cells in series, with its thermal system."""

    def __init__(self, params: PackParameters, backend: str = "numpy") -> None:
        """``backend``: "numpy" (the reference) or "compiled" (the modules' equations as C,
        compiled once per content on first use: :mod:`fmutwin.twins.pack_compiled`; the same
        results to rounding, several times faster)."""
        if backend not in ("numpy", "compiled"):
            raise ValueError(f"backend must be 'numpy' or 'compiled', not {backend!r}")
        self.params = params.realise()
        self.n_modules = self.params.n_modules
        self.cells_per_module = self.params.module.n_cells
        self.structure, self.p = module_equation_parameters(self.params.as_string(), block=self.cells_per_module)
        self.thermal_structure, self.thermal_p = pack_thermal_parameters(self.params.thermal)
        cells = module.initial_state(NUMPY, self.structure, self.p)
        thermal = pack_thermal.initial_state(NUMPY, self.thermal_structure, self.thermal_p)
        self.state = {k: np.array(v, dtype=float) for k, v in cells.items()}
        self.state.update({k: np.array(thermal[k], dtype=float) for k in THERMAL_STATE})
        self.outputs: dict[str, Any] = {}
        # module m's cells, as a (cells, modules) indicator
        self._modules = np.kron(np.eye(self.n_modules), np.ones((self.cells_per_module, 1)))
        self.compiled = None if backend == "numpy" else CompiledModules(self.params, self.p,
                                                                        self.structure.series_shares)

    @property
    def voltage_V(self) -> float:
        """The pack voltage at the end of the last step; before the first, at rest."""
        if not self.outputs:
            state = self.get_state()
            rest = self.step(0.0, LOOK_STEP_S, 0.0, float(self.state["plate_temperature_K"][0]),
                             float(self.state["enclosure_temperature_K"]))
            self.set_state(state)
            self.outputs = {}
            return float(rest["pack_voltage_V"])
        return float(self.outputs["pack_voltage_V"])

    def step(self, current_A: float, dt_s: float, coolant_flow_kg_per_s: float, coolant_inlet_temperature_K: float,
             ambient_temperature_K: float, bleed: Any = None) -> dict[str, Any]:
        """Advance by ``dt_s`` with the pack current (positive = discharge), the coolant's mass flow
        [kg/s] (0: the pump has failed) and inlet temperature, and the ambient; ``bleed``: one 0/1
        per series element of the pack (n_modules x Ns; default all off). Returns the outputs at
        the end of the step.

        Raises :class:`InputError` for NaN/inf or out-of-range inputs and :class:`StateError` for
        a non-finite result or a split that did not converge; the state is then unchanged.
        """
        u: dict[str, Any] = finite_scalars({
            "current_A": current_A, "dt_s": dt_s, "coolant_flow_kg_per_s": coolant_flow_kg_per_s,
            "coolant_inlet_temperature_K": coolant_inlet_temperature_K, "ambient_temperature_K": ambient_temperature_K})
        positive(u, ("dt_s",))
        positive(u, ("coolant_inlet_temperature_K", "ambient_temperature_K"), " K")
        non_negative(u, ("coolant_flow_kg_per_s",))
        u["bleed"] = switches("bleed", bleed, self.structure.n_series, "series element of the pack")
        try:
            xn, y = self._step(u)
        except TableRangeError as exc:
            raise StateError(f"at t = {self.time_s + dt_s} s: {exc}") from None
        checked_result(self.structure, self.params.module.cell.soc_limits, xn, y, self.time_s + dt_s)
        self.state = {k: np.array(v, dtype=float) for k, v in xn.items()}
        self.outputs = y
        return y

    def _step(self, u: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        s, p, m_count = self.structure, self.p, self.n_modules
        x_cells = {k: v for k, v in self.state.items() if k not in THERMAL_STATE}
        x_thermal = {"time_s": self.state["time_s"], **{k: self.state[k] for k in THERMAL_STATE}}
        if self.compiled is None:
            w = module.electrical_step(NUMPY, s, p, x_cells, u)
            # cell temperatures = X0 + X_plates @ T_plates + X_e T_e (one banded solve, m + 2 columns)
            g_plate, h_a = w["g_plate"], w["h_a"]
            columns = np.column_stack([w["rhs"], g_plate[:, None] * self._modules, h_a])
            x = NUMPY.solve_spd_banded(w["diagonal"], w["bands"], columns)
            # heat into plate m and into the enclosure from module m, each affine in (T_plates, T_e):
            # [constant | plate coefficients | enclosure coefficient]
            # (step means: a cell's flows at T_new + r (T_new - T_old), module.external_heat)
            r = module.mean_shift(NUMPY, w)
            to_plate = ((g_plate * (1.0 + r))[:, None] * self._modules).T @ x
            to_plate[:, 0] -= self._modules.T @ (g_plate * r * w["t_old"])
            to_plate[:, 1:m_count + 1] -= np.diag(self._modules.T @ g_plate)
            to_enclosure = ((h_a * (1.0 + r))[:, None] * self._modules).T @ x
            to_enclosure[:, 0] -= self._modules.T @ (h_a * r * w["t_old"])
            to_enclosure[:, m_count + 1] -= self._modules.T @ h_a
        else:  # the same affine flows, from each module's compiled thermal response
            response = self.compiled.thermal_response(x_cells, u)
            to_plate, to_enclosure = (np.column_stack([response[f"{flow}_W"],
                                                       np.diag(response[f"{flow}_per_plate_W_per_K"]),
                                                       response[f"{flow}_per_ambient_W_per_K"]])
                                      for flow in ("heat_to_cold_plate", "heat_to_ambient"))

        u_thermal = {"coolant_flow_kg_per_s": u["coolant_flow_kg_per_s"],
                     "coolant_inlet_temperature_K": u["coolant_inlet_temperature_K"],
                     "ambient_temperature_K": u["ambient_temperature_K"], "dt_s": u["dt_s"],
                     "plate_heat_W": np.zeros(m_count), "enclosure_heat_W": np.zeros(m_count)}
        linear = pack_thermal.system(NUMPY, self.thermal_structure, self.thermal_p, x_thermal, u_thermal)
        a = np.array(linear["a"], dtype=float)
        b = np.array(linear["b"], dtype=float)
        a[:m_count] -= to_plate[:, 1:]
        b[:m_count] += to_plate[:, 0]
        a[m_count] -= to_enclosure[:, 1:].sum(axis=0)
        b[m_count] += to_enclosure[:, 0].sum()
        solved = np.linalg.solve(a, b)
        plates, enclosure = solved[:m_count], solved[m_count]

        if self.compiled is None:
            t_cells = x[:, 0] + x[:, 1:m_count + 1] @ plates + x[:, m_count + 1] * enclosure
            u_cells = {**u, "cold_plate_temperature_K": self._modules @ plates, "ambient_temperature_K": enclosure}
            xn_cells, y_cells = module.finish_step(NUMPY, s, p, x_cells, u_cells, w, t_cells)
        else:
            xn_cells, y_cells = self.compiled.finish(x_cells, u, plates, enclosure)
        plate_heat = to_plate[:, 0] + to_plate[:, 1:] @ solved
        enclosure_heat = to_enclosure[:, 0] + to_enclosure[:, 1:] @ solved
        u_thermal.update(plate_heat_W=plate_heat, enclosure_heat_W=enclosure_heat)
        xn_thermal, y_thermal = pack_thermal.finish(NUMPY, self.thermal_structure, self.thermal_p, x_thermal,
                                                    u_thermal, linear, list(solved))
        return {**xn_cells, **{k: xn_thermal[k] for k in THERMAL_STATE}}, self._outputs(u, y_cells, y_thermal,
                                                                                        plate_heat, enclosure_heat)

    def _outputs(self, u: Mapping[str, Any], y_cells: dict[str, Any], y_thermal: dict[str, Any],
                 plate_heat: np.ndarray, enclosure_heat: np.ndarray) -> dict[str, Any]:
        """The string's outputs named for the pack, per module, and the thermal system's."""
        ns, m_count = self.params.module.n_series, self.n_modules
        r_sb = self.p["series_busbar_resistance_ohm"]
        elements = np.reshape(y_cells["element_voltage_V"], (m_count, ns))
        y = {("pack_" + k[len("module_"):] if k.startswith("module_") else k): v for k, v in y_cells.items()
             if k not in ("heat_to_cold_plate_W", "heat_to_ambient_W")}
        y["module_voltage_V"] = elements.sum(axis=1) - (ns - 1) * r_sb * y_cells["module_current_A"]
        y["module_heat_to_plate_W"] = plate_heat
        y["module_heat_to_enclosure_W"] = enclosure_heat
        y.update({k: v for k, v in y_thermal.items() if k != "heat_to_ambient_W"})
        y["enclosure_to_ambient_W"] = y_thermal["heat_to_ambient_W"]
        y["pack_power_W"] = y["pack_mean_voltage_V"] * u["current_A"]
        return y

    def step_power(self, power_W: float, dt_s: float, coolant_flow_kg_per_s: float,
                   coolant_inlet_temperature_K: float, ambient_temperature_K: float, bleed: Any = None) -> dict[str, Any]:
        """A step at a power demand (positive = discharge): the current is ``power_W`` over the pack
        voltage at the end of the last step (:attr:`voltage_V`), held over the step, as a vehicle
        inverter's current command follows the measured voltage."""
        (power,) = finite_scalars({"power_W": power_W}).values()
        return self.step(power / self.voltage_V, dt_s, coolant_flow_kg_per_s, coolant_inlet_temperature_K,
                         ambient_temperature_K, bleed)

    def run(self, time_s: Any, current_A: Any = None, coolant_flow_kg_per_s: float = 0.1,
            coolant_inlet_temperature_K: float = 298.15, ambient_temperature_K: float = 298.15,
            power_W: Any = None) -> dict[str, np.ndarray]:
        """Step through a profile of ``current_A`` or of ``power_W`` (one of them; value k held over
        ``[t_k, t_k+1]``); arrays over the profile, cell quantities with a second axis."""
        if (current_A is None) == (power_W is None):
            raise ValueError("run: give current_A or power_W (not both)")
        held = {"coolant_flow_kg_per_s": coolant_flow_kg_per_s,
                "coolant_inlet_temperature_K": coolant_inlet_temperature_K, "ambient_temperature_K": ambient_temperature_K}
        if power_W is not None:
            return run_profile(self.step_power, time_s, {"power_W": power_W}, held)
        return run_profile(self.step, time_s, {"current_A": current_A}, held)
