"""Cycling and calendar aging laws.

Cycling (N = equivalent full discharges, N_ref = reference cycles):
    capacity and resistances scale by 1 + dX/100 sqrt(N / N_ref),  OCV by 1 + dV/100 N / N_ref.
Calendar (applied once, at initialisation, from the storage history):
    loss = loss_ref/100 (t/t_ref)^z exp(-Ea/R_gas (1/T - 1/T_ref)) exp(beta (x - x_ref)).
"""

from __future__ import annotations

from typing import Any

from fmutwin.ops import Ops

GAS_CONSTANT_J_PER_MOL_K = 8.314462618


def cycling_sqrt_factor(ops: Ops, cycles: Any, reference_cycles: Any, change_percent: Any) -> Any:
    """1 + change/100 sqrt(N / N_ref), for capacity and resistances."""
    return 1.0 + change_percent / 100.0 * ops.sqrt(ops.fmax(cycles, 0.0) / reference_cycles)


def cycling_linear_factor(cycles: Any, reference_cycles: Any, change_percent: Any) -> Any:
    """1 + change/100 N / N_ref, for the OCV."""
    return 1.0 + change_percent / 100.0 * cycles / reference_cycles


def calendar_change(ops: Ops, time_s: Any, temperature_K: Any, stress: Any, reference_time_s: Any,
                    reference_temperature_K: Any, reference_stress: Any, change_percent: Any,
                    time_exponent: Any, activation_energy_J_per_mol: Any, stress_coefficient: Any) -> Any:
    """Relative change (a fraction) after storage for ``time_s`` at the given temperature and stress."""
    arrhenius = ops.exp(-activation_energy_J_per_mol / GAS_CONSTANT_J_PER_MOL_K
                        * (1.0 / temperature_K - 1.0 / reference_temperature_K))
    return (change_percent / 100.0 * ops.power(time_s / reference_time_s, time_exponent) * arrhenius
            * ops.exp(stress_coefficient * (stress - reference_stress)))
