"""The pack-thermal twin: module cold plates in a coolant loop and an enclosure, stepped with
numpy (``equations.pack_thermal``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fmutwin.equations import pack_thermal
from fmutwin.equations.pack_thermal import PackThermalStructure
from fmutwin.interface import StateError
from fmutwin.ops import NUMPY
from fmutwin.params.pack import PackThermalParameters
from fmutwin.twins.array_state import ArrayState
from fmutwin.twins.checks import finite_array, finite_scalars, non_negative, positive
from fmutwin.twins.profile import run_profile


def pack_thermal_parameters(params: PackThermalParameters) -> tuple[PackThermalStructure, dict[str, Any]]:
    """The structure and the numeric parameters of the equations."""
    per = {k: np.asarray(params.per_module(k), dtype=float) for k in (
        "plate_heat_capacity_J_per_K", "plate_to_coolant_W_per_K", "plate_to_enclosure_W_per_K",
        "initial_plate_temperature_K")}
    p = {**per, **{k: float(getattr(params, k)) for k in (
        "reference_flow_kg_per_s", "flow_exponent", "coolant_heat_capacity_J_per_kg_K",
        "enclosure_heat_capacity_J_per_K", "enclosure_to_ambient_W_per_K", "initial_enclosure_temperature_K")}}
    return PackThermalStructure(params.n_modules), p


class PackThermalTwin(ArrayState):
    """Cold plates of ``n_modules`` modules in one coolant loop, and the enclosure."""

    def __init__(self, params: PackThermalParameters) -> None:
        self.params = params
        self.structure, self.p = pack_thermal_parameters(params)
        x0 = pack_thermal.initial_state(NUMPY, self.structure, self.p)
        self.state = {k: np.array(v, dtype=float) for k, v in x0.items()}
        self.outputs: dict[str, Any] = {}

    def step(self, dt_s: float, coolant_flow_kg_per_s: float, coolant_inlet_temperature_K: float,
             ambient_temperature_K: float, plate_heat_W: Any, enclosure_heat_W: Any = None) -> dict[str, Any]:
        """Advance by ``dt_s``; ``plate_heat_W`` (and ``enclosure_heat_W``, default 0): one value per
        module. A NaN, a negative flow or temperature, or arrays of the wrong length raise
        :class:`InputError`; the state is then unchanged."""
        m = self.structure.n_modules
        u: dict[str, Any] = finite_scalars({"coolant_flow_kg_per_s": coolant_flow_kg_per_s,
                                            "coolant_inlet_temperature_K": coolant_inlet_temperature_K,
                                            "ambient_temperature_K": ambient_temperature_K, "dt_s": dt_s})
        positive(u, ("coolant_inlet_temperature_K", "ambient_temperature_K", "dt_s"))
        non_negative(u, ("coolant_flow_kg_per_s",))
        u["plate_heat_W"] = finite_array("plate_heat_W", plate_heat_W, m, "module")
        u["enclosure_heat_W"] = finite_array("enclosure_heat_W", enclosure_heat_W, m, "module")
        xn, y = pack_thermal.step(NUMPY, self.structure, self.p, self.state, u)
        if not all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in (*xn.values(), *y.values())):
            raise StateError(f"a temperature became non-finite at t = {float(self.state['time_s']) + dt_s} s")
        self.state = {k: np.array(v, dtype=float) for k, v in xn.items()}
        self.outputs = y
        return y

    def run(self, time_s: Any, plate_heat_W: Any, coolant_flow_kg_per_s: float, coolant_inlet_temperature_K: float,
            ambient_temperature_K: float, enclosure_heat_W: Any = None) -> dict[str, np.ndarray]:
        """Step through a profile: ``plate_heat_W[k]`` (one row per step) held over each interval."""
        return run_profile(self.step, time_s, {"plate_heat_W": plate_heat_W},
                           {"coolant_flow_kg_per_s": coolant_flow_kg_per_s,
                            "coolant_inlet_temperature_K": coolant_inlet_temperature_K,
                            "ambient_temperature_K": ambient_temperature_K, "enclosure_heat_W": enclosure_heat_W})
