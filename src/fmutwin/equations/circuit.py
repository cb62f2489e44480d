"""Electrical circuit: series resistance and RC branches, discretised exactly over a step.

Over one step of length dt the current I (positive = discharge) and the branch parameters are
held constant, so each RC branch dV/dt = I/C - V/tau has the exact solution

    V(t) = R I + (V0 - R I) exp(-t / tau),

stable for any dt. The integrals below are exact for that solution; they make the energy
accounting of a step exact as well (tests check I*int(V) = int(V^2/R) + change of C V^2 / 2).
"""

from __future__ import annotations

from typing import Any

from fmutwin.ops import Ops


def rc_decays(ops: Ops, tau_s: Any, dt_s: Any) -> tuple[Any, Any]:
    """1 - exp(-dt/tau) and 1 - exp(-2 dt/tau), accurate for small dt/tau: what a branch's step
    needs of its time constant (held over a step, so a current split's trial currents share it)."""
    a = dt_s / tau_s
    return -ops.expm1(-a), -ops.expm1(-2.0 * a)


def rc_step(ops: Ops, v0_V: Any, current_A: Any, r_ohm: Any, tau_s: Any, dt_s: Any,
            decays: tuple[Any, Any] | None = None) -> Any:
    """Branch voltage after dt (``decays``: :func:`rc_decays`, computed if not given)."""
    decay = (decays or rc_decays(ops, tau_s, dt_s))[0]
    return v0_V + (r_ohm * current_A - v0_V) * decay


def rc_voltage_integral(ops: Ops, v0_V: Any, current_A: Any, r_ohm: Any, tau_s: Any, dt_s: Any,
                        decays: tuple[Any, Any] | None = None) -> Any:
    """Integral of the branch voltage over the step [V s]."""
    ri = r_ohm * current_A
    return ri * dt_s + (v0_V - ri) * tau_s * (decays or rc_decays(ops, tau_s, dt_s))[0]


def rc_loss_energy(ops: Ops, v0_V: Any, current_A: Any, r_ohm: Any, tau_s: Any, dt_s: Any,
                   decays: tuple[Any, Any] | None = None) -> Any:
    """Energy dissipated in the branch resistor over the step, integral of V^2/R [J]."""
    ri = r_ohm * current_A
    d = v0_V - ri
    once, twice = decays or rc_decays(ops, tau_s, dt_s)
    return (ri * ri * dt_s + 2.0 * ri * d * tau_s * once + d * d * 0.5 * tau_s * twice) / r_ohm
