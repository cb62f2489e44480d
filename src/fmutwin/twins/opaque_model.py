"""What the FMI models of the twins without equations over ops share (the PyBaMM twins, the BMS):
a twin (``self.twin``) built from a parameter file and a declaration of (variable, twin key)
pairs, its outputs read at the initial state, its steps with the twin's errors named for FMI,
its state restored, no warnings of its own, and no symbolic form to derive output dependencies from."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from fmutwin.interface import InputError, ModelError, StateError, Variable


class OpaqueTwinModel:
    """Base of a :class:`fmutwin.interface.SteppableModel` that drives one twin without equations over ops."""

    twin: Any
    params: Any
    declared: dict[str, tuple[tuple[Variable, str], ...]]

    def _load(self, parameter_file: str | Path | None, load: Callable[[Any], Any], default: Callable[[], Any],
              declaration: Callable[[Any], dict[str, tuple[tuple[Variable, str], ...]]]) -> None:
        """Read the shipped parameter file (the default set when there is none) and declare the variables."""
        self.params = load(parameter_file) if parameter_file and Path(parameter_file).is_file() else default()
        self.declared = declaration(self.params)
        self.variables = tuple(v for group in self.declared.values() for v, _ in group)
        self.twin = None

    def _look(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The outputs at the initial state with the importer's inputs (a 1 ms step, undone)."""
        saved = self.twin.get_state()
        try:
            return self.step(inputs, 0.0, 1e-3)
        finally:
            self.twin.set_state(saved)

    def _step_twin(self, dt_s: float, args: Mapping[str, Any]) -> dict[str, Any]:
        """``twin.step(dt_s=..., **args)`` with its errors as :class:`ModelError` naming the FMI
        input, and its outputs by FMI name (Booleans and arrays as declared)."""
        try:
            y = self.twin.step(dt_s=dt_s, **args)
        except (InputError, StateError) as exc:
            message = str(exc)
            for var, key in self.declared["inputs"]:
                message = message.replace(f"input {key}", f"input {var.name}")
            raise ModelError(message) from None
        out: dict[str, Any] = {}
        for var, key in self.declared["outputs"]:
            array = np.ravel(y[key])
            values = (array > 0.5).tolist() if var.type == "Boolean" else array.astype(float).tolist()
            out[var.name] = values if var.dimensions else values[0]
        return out

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.twin.set_state(state)

    def warnings(self) -> list[str]:
        return []

    def output_dependencies(self) -> None:
        """Unknown (no symbolic form here): every output may depend on every input."""
        return None
