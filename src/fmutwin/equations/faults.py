"""Fault triggers and the exothermic-reaction (thermal runaway) model.

Triggers latch: once a fault is active it stays active. The exothermic reaction extent xi in
[0, 1] follows dxi/dt = k(T) (1 - xi)^n with k(T) = K_scale exp(-Ea/(R_gas T)), solved exactly for
the temperature held over the step. K_scale is fixed by the onset temperature: in an adiabatic
accelerating-rate-calorimetry (ARC) test the self-heating rate at onset (xi = 0) is
ARC_ONSET_RATE_K_PER_S.
"""

from __future__ import annotations

from typing import Any

from fmutwin.equations.aging import GAS_CONSTANT_J_PER_MOL_K
from fmutwin.ops import Ops

ARC_ONSET_RATE_K_PER_S = 0.02 / 60.0  # 0.02 degC/min: the usual ARC detection threshold
TIME_TRIGGER = 0.0
TEMPERATURE_TRIGGER = 1.0


def latch(ops: Ops, active: Any, kind: Any, time_s: Any, temperature_K: Any, trigger_time_s: Any,
          trigger_temperature_K: Any) -> Any:
    """1 once the trigger fired (kind 0: time reached; kind 1: temperature reached), else 0."""
    fired = ops.where(kind == TEMPERATURE_TRIGGER, temperature_K >= trigger_temperature_K,
                      time_s >= trigger_time_s)
    return ops.where(fired, 1.0, active)


def reaction_rate_constant(ops: Ops, temperature_K: Any, onset_temperature_K: Any,
                           activation_energy_J_per_mol: Any, reaction_heat_J: Any,
                           heat_capacity_J_per_K: Any) -> Any:
    """k(T) = K_scale exp(-Ea/(R T)) [1/s], written relative to the onset to avoid overflow."""
    return (ARC_ONSET_RATE_K_PER_S * heat_capacity_J_per_K / reaction_heat_J
            * ops.exp(activation_energy_J_per_mol / GAS_CONSTANT_J_PER_MOL_K
                      * (1.0 / onset_temperature_K - 1.0 / temperature_K)))


def reaction_step(ops: Ops, xi: Any, rate_1_per_s: Any, order: Any, dt_s: Any) -> Any:
    """Extent after the step: exact solution of dy/dt = -k y^n, y = 1 - xi, for constant k.

    Written as the increment y (1 - exp(L)) with L = -k dt (n = 1) or
    L = log(1 - (1-n) k dt y^(n-1)) / (1-n) (n != 1; for n < 1 the reactant is used up in finite
    time, when the log's argument reaches 0), through expm1/log1p: the extent and the heat
    released in a step (reaction heat x increment) keep full relative precision while the extent
    is small, where 1 - y_new would round to the spacing of floats near 1.
    """
    y = ops.fmax(1.0 - xi, 1e-15)
    kdt = rate_1_per_s * dt_s
    first = ops.fabs(order - 1.0) < 1e-12
    one_minus_n = ops.where(first, 1.0, 1.0 - order)
    z = -one_minus_n * kdt * ops.power(y, -one_minus_n)  # y_new^(1-n) = y^(1-n) (1 + z)
    past = z <= -1.0
    used_up = ops.where(first, 0.0, past)
    log_ratio = ops.where(first, -kdt, ops.log1p(ops.where(past, 0.0, z)) / one_minus_n)
    consumed = ops.where(used_up, y, -y * ops.expm1(log_ratio))
    return ops.clip(xi + consumed, xi, 1.0)
