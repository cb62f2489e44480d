"""What the BMS commands: the charger's current (CC-CV) and passive balancing.

**Charge (CC-CV).** While a charger is connected the BMS asks for the constant current
``cc_current_A``, bounded by the charge current limit (:mod:`fmutwin.equations.bms_limits`); once
the highest element reaches ``cv_voltage_V`` the request is the current that holds it there: the
voltage-limited charge current with the CV voltage as the limit over one step (the filter's model
predicts it, no PI loop to tune). Charging is complete once, in CV, the request falls below
``termination_current_A`` (it stays complete until the charger is disconnected); a limit of zero
(a cold pack, an alarm) pauses the charge without completing it. Currents are
magnitudes of charge current here; the pack current is then minus the request.

**Passive balancing.** Balancing is allowed at rest, or while charging above ``charge_soc_min``,
and never with an alarm raised; leaving those states turns every switch off at once. An element
is a candidate while its SoC is more than ``start_soc_spread`` above the lowest element's, and
stays one until it is within ``stop_soc_spread`` of it (hysteresis). Where allowed, a candidate's
bleed switch turns on; a switch that is on stays on at least ``min_on_s`` (against chatter), then
follows its candidacy.
"""

from __future__ import annotations

from typing import Any

from fmutwin.ops import Ops


def charge_request(ops: Ops, connected: Any, complete: Any, cc_current: Any, limit: Any, cv_current: Any,
                   termination_current: Any) -> tuple[Any, Any]:
    """(the charge current to ask for [A, magnitude], whether the charge is complete) for a step:
    ``limit`` the charge current limit, ``cv_current`` the current that brings the highest element
    to the CV voltage at the end of the step (its voltage-limited charge current)."""
    wanted = ops.fmax(ops.fmin(ops.fmin(cc_current, limit), cv_current), 0.0)
    # complete only in CV (the CV current binds and has fallen below termination), never because
    # a limit is zero (a cold pack, an element at the top of the SoC window, an alarm)
    in_cv = ops.where(cv_current <= ops.fmin(cc_current, limit), 1.0, 0.0)
    done = connected * ops.fmax(complete, in_cv * ops.where(cv_current < termination_current, 1.0, 0.0))
    return connected * (1.0 - done) * wanted, done


def balancing(ops: Ops, soc: Any, candidate: Any, bleed: Any, on_s: Any, allowed: Any, dt: Any,
              settings: dict[str, Any]) -> dict[str, Any]:
    """The bleed switches (0/1 per element) after a step, with the candidates (hysteresis) and
    how long each switch has been on; ``allowed``: 1 where the pack's state allows balancing and
    no alarm is raised, else 0 (every switch off at once, the minimum on time notwithstanding)."""
    above = soc - ops.smallest(soc)
    candidate = ops.where(above > settings["start_soc_spread"], 1.0,
                          ops.where(above < settings["stop_soc_spread"], 0.0, candidate))
    held = ops.where(on_s < settings["min_on_s"] - 1e-9, 1.0, 0.0)  # a switch on for less than the minimum
    bleed_new = allowed * ops.where(bleed > 0.5, ops.fmax(held, candidate), candidate)
    on_new = bleed_new * (on_s * bleed + dt)
    return {"candidate": candidate, "bleed": bleed_new, "on_s": on_new}
