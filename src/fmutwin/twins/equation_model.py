"""A Python FMU's model from a twin's :class:`fmutwin.interface.EquationSpec`: the same equations
the native FMU generates C from, run with numpy.

With it a twin written as equations over ``ops`` (a declaration, a step and an initial state) is
exported as Python and native FMUs, FMI 2.0 and 3.0, with nothing else to write: the spec binds
every declared parameter to a leaf of the equations' parameters, every input and output to a step
entry (an array to ``key[0]``, ``key[1]``, ...), and the twin-neutral FMI layer does the rest.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import numpy as np

from fmutwin.interface import EquationSpec, ModelError, Variable
from fmutwin.ops import NUMPY, TableRangeError
from fmutwin.symbolic import entry, grouped

#: the step used to evaluate the outputs at the initial state with the importer's inputs [s]
LOOK_STEP_S = 1e-12


def _entries(var: Variable, key: str) -> list[str]:
    """The flat step entries of a declared variable: ``key``, or ``key[0]``.. for an array."""
    return [f"{key}[{k}]" for k in range(var.size)] if var.dimensions else [key]


def _stack(*values: Any) -> np.ndarray:
    return np.array(values, dtype=float)


class EquationModel:
    """Drives an :class:`EquationSpec`'s equations with numpy from FMI-named values."""

    def __init__(self, spec: EquationSpec) -> None:
        self.spec = spec
        self.variables = (tuple(v for v, _ in spec.parameters) + tuple(v for v, _ in spec.inputs)
                          + tuple(v for v, _ in spec.outputs))
        self.p: dict[str, Any] = {}
        self.x: dict[str, float] = {}

    def _parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        p = copy.deepcopy(self.spec.p)
        for var, leaf in self.spec.parameters:
            *parents, last = leaf.split(".")
            node = p
            for part in parents:
                node = node[part]
            node[last] = np.reshape(np.asarray(values[var.name], dtype=float), np.shape(node[last]))
        return p

    def initialize(self, parameters: Mapping[str, Any], overridden: set[str],
                   inputs: Mapping[str, Any]) -> dict[str, Any]:
        self.p = self._parameters(parameters)
        x0 = self.spec.initial_state(NUMPY, self.spec.structure, self.p)
        self.x = {name: float(entry(x0, name)) for name in self.spec.state_names}
        saved = dict(self.x)
        outputs = self.step(inputs, 0.0, LOOK_STEP_S)  # the outputs at the initial state, with the inputs
        self.x = saved
        return outputs

    def step(self, inputs: Mapping[str, Any], time_s: float, dt_s: float) -> dict[str, Any]:
        flat_u: dict[str, float] = {self.spec.dt_input: dt_s}
        for var, key in self.spec.inputs:
            for name, value in zip(_entries(var, key), np.ravel(inputs[var.name])):
                flat_u[name] = float(value)
        x = dict(self.x)
        if self.spec.time_state:
            x[self.spec.time_state] = time_s
        names = self.spec.state_names
        try:
            x_next, y = self.spec.step(NUMPY, self.spec.structure, self.p, grouped(names, [x[n] for n in names], _stack),
                                       grouped(self.spec.input_names, [flat_u[n] for n in self.spec.input_names],
                                               _stack))
        except TableRangeError as exc:
            raise ModelError(str(exc)) from None
        self.x = {name: float(entry(x_next, name)) for name in names}
        out: dict[str, Any] = {}
        for var, key in self.spec.outputs:
            values = [float(v) for v in np.ravel(y[key])] if key in y else [0.0] * var.size
            converted = [bool(v > 0.5) if var.type == "Boolean" else int(round(v)) if var.type == "Integer" else v
                         for v in values]
            out[var.name] = converted if var.dimensions else converted[0]
        return out

    def get_state(self) -> dict[str, Any]:
        return dict(self.x)

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.x = {name: float(state[name]) for name in self.spec.state_names}

    def warnings(self) -> list[str]:
        return []

    def output_dependencies(self) -> dict[str, tuple[str, ...]]:
        from fmutwin.symbolic import input_dependencies  # CasADi: only when a modelDescription is written

        return input_dependencies(self.spec)
