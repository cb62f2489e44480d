"""One-state hysteresis (Plett's enhanced self-correcting model, as in Simscape's block).

The state H in [-1, 1] moves toward -sign(I) (positive I = discharge, so -1 while discharging)
at a rate proportional to the charge throughput:

    dH/dt = -|gamma I / Q| (H + sign(I)),

solved exactly for constant I over the step. S, the instantaneous hysteresis state, is
-sign(I) of the last non-zero current. The hysteresis voltage added to the OCV is
M(SOC, T) H + M0(SOC, T) S.
"""

from __future__ import annotations

from typing import Any

from fmutwin.ops import Ops


def hysteresis_step(ops: Ops, h: Any, s: Any, current_A: Any, gamma: Any, capacity_As: Any,
                    dt_s: Any) -> tuple[Any, Any]:
    """(H, S) after the step."""
    target = -ops.sign(current_A)
    approach = -ops.expm1(-ops.fabs(gamma * current_A * dt_s / capacity_As))
    h_new = h + (target - h) * approach
    s_new = ops.where(current_A != 0, target, s)
    return h_new, s_new


def hysteresis_voltage(h: Any, s: Any, m_V: Any, m0_V: Any) -> Any:
    """Voltage added to the OCV [V]."""
    return m_V * h + m0_V * s
