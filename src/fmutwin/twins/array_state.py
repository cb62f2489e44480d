"""The state of a numpy twin as named arrays, copied out and restored by name (what FMU state
get/set and a co-simulation master's rollback need)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np


class ArrayState:
    """Mixin for twins whose ``state`` is a dict of numpy arrays, ``time_s`` among them."""

    state: dict[str, np.ndarray]

    @property
    def time_s(self) -> float:
        """Simulation time of the twin [s] (the state's ``time_s``)."""
        return float(self.state["time_s"])

    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of the state arrays."""
        return {k: v.copy() for k, v in self.state.items()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`get_state` (every name must be there; extra names are ignored)."""
        missing = set(self.state) - set(state)
        if missing:
            raise KeyError(f"state lacks {sorted(missing)}")
        self.state = {k: np.array(state[k], dtype=float) for k in self.state}
