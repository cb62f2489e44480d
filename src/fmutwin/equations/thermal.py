"""Cell thermal models: lumped mass (exact over a step) and height-distributed nodes.

Heat Q (W) is held constant over the step. Lumped: C dT/dt = Q - hA (T - T_amb), with the
exact solution T + (Q - hA (T - T_amb)) dt/C * phi1(hA dt / C). Distributed: N equal nodes
stacked along the height, each with C/N, hA/N and Q/N, conductance G between neighbours,
advanced with backward Euler (a tridiagonal solve), stable for any step.
"""

from __future__ import annotations

from typing import Any, Sequence

from fmutwin.ops import Ops


def lumped_step(ops: Ops, t_K: Any, heat_W: Any, ambient_K: Any, capacity_J_per_K: Any, ha_W_per_K: Any,
                dt_s: Any) -> Any:
    """Temperature after the step."""
    z = ha_W_per_K * dt_s / capacity_J_per_K
    return t_K + (heat_W - ha_W_per_K * (t_K - ambient_K)) * dt_s / capacity_J_per_K * ops.phi1(z)


def distributed_step(ops: Ops, nodes_K: Sequence[Any], heat_W: Any, ambient_K: Any, capacity_J_per_K: Any,
                     ha_W_per_K: Any, conductance_W_per_K: Any, dt_s: Any) -> list[Any]:
    """Node temperatures after a backward-Euler step (Thomas algorithm, unrolled over nodes)."""
    n = len(nodes_K)
    c = capacity_J_per_K / n / dt_s
    h = ha_W_per_K / n
    g = conductance_W_per_K
    # Row k: -g T[k-1] + (c + h + g_left + g_right) T[k] - g T[k+1] = c T_old[k] + Q/n + h T_amb
    diag = [c + h + g * ((k > 0) + (k < n - 1)) for k in range(n)]
    rhs = [c * nodes_K[k] + heat_W / n + h * ambient_K for k in range(n)]
    cp, dp = [0.0] * n, [0.0] * n
    cp[0] = -g / diag[0]
    dp[0] = rhs[0] / diag[0]
    for k in range(1, n):
        denom = diag[k] + g * cp[k - 1]
        cp[k] = -g / denom
        dp[k] = (rhs[k] + g * dp[k - 1]) / denom
    out = [0.0] * n
    out[n - 1] = dp[n - 1]
    for k in range(n - 2, -1, -1):
        out[k] = dp[k] - cp[k] * out[k + 1]
    return out


def mean(values: Sequence[Any]) -> Any:
    """Arithmetic mean of node values (what the electrical model sees)."""
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total / len(values)
