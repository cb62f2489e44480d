"""The pack's thermal system: each module on a cold plate, the plates in one coolant loop, and an
enclosure (air and structure) node.

Per module m (in coolant order): the plate, a thermal mass C_m, takes the module's heat Q_m (its
cells' heat to the cold plate), gives heat q_m to the coolant and exchanges G_m (T_m - T_e) with the
enclosure. The coolant passes the plates in order; on a plate it is a heat exchanger of
effectiveness e_m = 1 - exp(-UA_m / (mdot cp)) (the coolant itself holds no heat):

    q_m = e_m mdot cp (T_m - Tc_m),   Tc_(m+1) = Tc_m + e_m (T_m - Tc_m),   Tc_0 = T_inlet

so mdot cp (T_outlet - T_inlet) = sum q_m exactly, and with no flow (a failed pump) q_m = 0 and the
coolant leaves each plate at the plate's temperature, with no division by the flow.
UA_m = UA_ref,m (mdot / mdot_ref)^n (n = 0: constant; Dittus-Boelter: 0.8). The enclosure, C_e,
takes the modules' heat to their surroundings and exchanges H (T_e - T_ambient) with the ambient.

Integration: backward Euler of the whole (plates + enclosure) linear system, unconditionally
stable and energy-exact step by step: sum of the heats in x dt = the stored heat + the heat to the
coolant + the heat to the ambient, to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fmutwin.ops import Ops

INPUTS: tuple[str, ...] = ("coolant_flow_kg_per_s", "coolant_inlet_temperature_K", "ambient_temperature_K", "dt_s")


@dataclass(frozen=True)
class PackThermalStructure:
    """The number of modules (their order along the coolant loop is their index)."""

    n_modules: int

    def state_names(self) -> list[str]:
        return ["time_s", "enclosure_temperature_K"] + [f"plate_temperature_K[{m}]" for m in range(self.n_modules)]

    def input_names(self) -> tuple[str, ...]:
        per_module = [f"{name}[{m}]" for name in ("plate_heat_W", "enclosure_heat_W") for m in range(self.n_modules)]
        return INPUTS[:-1] + tuple(per_module) + INPUTS[-1:]


def initial_state(ops: Ops, s: PackThermalStructure, p: dict[str, Any]) -> dict[str, Any]:
    plates = ops.as_cells(p["initial_plate_temperature_K"])
    return {"time_s": 0.0 * p["enclosure_heat_capacity_J_per_K"],
            "enclosure_temperature_K": p["initial_enclosure_temperature_K"] + 0.0 * plates[0],
            "plate_temperature_K": plates}


def step(ops: Ops, s: PackThermalStructure, p: dict[str, Any], x: dict[str, Any],
         u: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Advance by ``u["dt_s"]``. Inputs: coolant mass flow [kg/s] (>= 0) and inlet temperature,
    ambient temperature, and per module the heat into its plate and into the enclosure [W]."""
    linear = system(ops, s, p, x, u)
    return finish(ops, s, p, x, u, linear, ops.solve_small(linear["a"], linear["b"]))


def system(ops: Ops, s: PackThermalStructure, p: dict[str, Any], x: dict[str, Any],
           u: dict[str, Any]) -> dict[str, Any]:
    """The step's linear system ``a T = b`` in the new plate temperatures and (last) the new
    enclosure temperature, with the coolant chain it implies (a pack adds its modules' heat as
    terms linear in these temperatures before solving)."""
    m_count = s.n_modules
    dt = u["dt_s"]
    cp = p["coolant_heat_capacity_J_per_kg_K"]
    flow_ref = p["reference_flow_kg_per_s"]
    flow = ops.fmax(u["coolant_flow_kg_per_s"], 1e-12 * flow_ref)  # no flow: effectiveness 1, no heat carried
    capacity_rate = flow * cp
    plates = [x["plate_temperature_K"][m] for m in range(m_count)]
    plate_c = [ops.as_cells(p["plate_heat_capacity_J_per_K"])[m] for m in range(m_count)]
    g = [ops.as_cells(p["plate_to_enclosure_W_per_K"])[m] for m in range(m_count)]
    ua_ref = ops.as_cells(p["plate_to_coolant_W_per_K"])
    ua = [ua_ref[m] * ops.power(flow / flow_ref, p["flow_exponent"]) for m in range(m_count)]
    effectiveness = [-ops.expm1(-ua[m] / capacity_rate) for m in range(m_count)]
    q_in = [u["plate_heat_W"][m] for m in range(m_count)]
    air_in = [u["enclosure_heat_W"][m] for m in range(m_count)]

    # coolant temperature at plate m: alpha_m T_inlet + sum_j beta_mj T_j (the new plate temperatures)
    alpha = [1.0 + 0.0 * flow]
    beta: list[list[Any]] = [[0.0 * flow for _ in range(m_count)]]
    for m in range(m_count - 1):
        keep = 1.0 - effectiveness[m]
        alpha.append(keep * alpha[m])
        beta.append([keep * beta[m][j] + (effectiveness[m] if j == m else 0.0) for j in range(m_count)])
    k = [effectiveness[m] * capacity_rate for m in range(m_count)]  # q_m = k_m (T_m - Tc_m)
    n = m_count + 1  # unknowns: the plates, then the enclosure
    zero = 0.0 * flow
    a = [[zero for _ in range(n)] for _ in range(n)]
    b = [zero for _ in range(n)]
    for m in range(m_count):
        for j in range(m_count):
            a[m][j] = a[m][j] - k[m] * beta[m][j]
        a[m][m] = a[m][m] + plate_c[m] / dt + k[m] + g[m]
        a[m][m_count] = -g[m]
        b[m] = plate_c[m] / dt * plates[m] + q_in[m] + k[m] * alpha[m] * u["coolant_inlet_temperature_K"]
    c_e, h_e = p["enclosure_heat_capacity_J_per_K"], p["enclosure_to_ambient_W_per_K"]
    for m in range(m_count):
        a[m_count][m] = -g[m]
    a[m_count][m_count] = c_e / dt + sum(g) + h_e
    b[m_count] = c_e / dt * x["enclosure_temperature_K"] + sum(air_in) + h_e * u["ambient_temperature_K"]
    return {"a": a, "b": b, "alpha": alpha, "beta": beta, "k": k, "effectiveness": effectiveness}


def finish(ops: Ops, s: PackThermalStructure, p: dict[str, Any], x: dict[str, Any], u: dict[str, Any],
           linear: dict[str, Any], solved: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The new state and the outputs from the solved temperatures (plates, then the enclosure)."""
    m_count = s.n_modules
    alpha, beta, k, effectiveness = linear["alpha"], linear["beta"], linear["k"], linear["effectiveness"]
    h_e = p["enclosure_to_ambient_W_per_K"]
    new_plates, enclosure = solved[:m_count], solved[m_count]

    coolant = [alpha[m] * u["coolant_inlet_temperature_K"] + sum(beta[m][j] * new_plates[j] for j in range(m_count))
               for m in range(m_count)]
    outlet = coolant[-1] + effectiveness[-1] * (new_plates[-1] - coolant[-1])
    to_coolant = [k[m] * (new_plates[m] - coolant[m]) for m in range(m_count)]
    to_ambient = h_e * (enclosure - u["ambient_temperature_K"])
    xn = {"time_s": x["time_s"] + u["dt_s"], "enclosure_temperature_K": enclosure,
          "plate_temperature_K": ops.cell_array(new_plates)}
    y = {"plate_temperature_K": ops.cell_array(new_plates), "coolant_temperature_K": ops.cell_array(coolant),
         "outlet_temperature_K": outlet, "enclosure_temperature_K": enclosure,
         "heat_to_coolant_W": sum(to_coolant), "heat_to_ambient_W": to_ambient,
         "plate_heat_to_coolant_W": ops.cell_array(to_coolant)}
    return xn, y
