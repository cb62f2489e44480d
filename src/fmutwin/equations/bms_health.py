"""State of health by capacity, state of energy and cycle counting, per series element.

**Capacity** from rest to rest: after the pack has rested ``rest_s`` (the cells relaxed), the
element's SoC follows from its OCV (model-independent of the capacity); between two such rests
the charge that flowed (its own current, bleed included) over the SoC change is a measurement
of the capacity, y = C x with y = -(charge) and x = the SoC change. Once |x| is at least
``min_soc_change`` it updates a recursive least-squares estimate with forgetting factor lambda:

    K = P x / (lambda + x P x),  C = C + K (y - x C),  P = (P - K x P) / lambda

SoH by capacity is C over the cell file's (new) capacity of the element.

**State of energy**: the energy the element holds down to empty, C times the integral of the
OCV over SoC from 0 to its SoC (exact for the piecewise-linear OCV table: its mean over [0, SoC]),
over that at SoC 1. **Cycles**: equivalent full cycles, the discharged charge over the capacity
(the estimated one: compensated for SoH), and the coulombic efficiency, discharged over charged.
"""

from __future__ import annotations

from typing import Any

from fmutwin.ops import Ops


def rls_capacity(ops: Ops, capacity: Any, variance: Any, soc_change: Any, charge: Any, forgetting: Any,
                 update: Any) -> tuple[Any, Any]:
    """(capacity, its variance) after one measurement ``charge`` = -capacity x ``soc_change``
    (positive charge discharges), applied where ``update`` is 1."""
    x, y = soc_change, -charge
    gain = variance * x / (forgetting + x * variance * x)
    new_capacity = capacity + gain * (y - x * capacity)
    new_variance = (variance - gain * x * variance) / forgetting
    return (ops.where(update > 0.5, new_capacity, capacity), ops.where(update > 0.5, new_variance, variance))


def energy_fraction(ops: Ops, mean_ocv_to: Any, soc: Any, mean_ocv_full: Any) -> Any:
    """State of energy: soc x (mean OCV over [0, soc]) over (mean OCV over [0, 1])."""
    return soc * mean_ocv_to / mean_ocv_full
