"""What the FMI models of the PyBaMM twins share: a twin (``self.twin``) whose state it restores,
no warnings of its own, and no symbolic form to derive output dependencies from."""

from __future__ import annotations

from typing import Any, Mapping


class OpaqueTwinModel:
    """Base of a :class:`fmutwin.interface.SteppableModel` that drives one twin without equations over ops."""

    twin: Any

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.twin.set_state(state)

    def warnings(self) -> list[str]:
        return []

    def output_dependencies(self) -> None:
        """Unknown (PyBaMM's model has no symbolic form here): every output may depend on every input."""
        return None
