"""The FMI slave logic written once for every twin and both FMI versions.

A slave holds the values of the declared variables, hands parameters to the model at the end
of initialisation, checks inputs before and outputs after every step, logs one line per problem
naming the variable and value, and saves/restores the complete state. ``fmi2`` and ``fmi3``
only bind this to pythonfmu's and pythonfmu3's base classes.
"""

from __future__ import annotations

import ctypes
import math
import sys
from typing import Any, Callable

from fmutwin.interface import ModelError, SteppableModel, Variable

ModelFactory = Callable[[Any], SteppableModel]

_RETAINED_MODULES: list[Any] = []


def _release_slave_module(name: str) -> None:
    """Keep the slave source module and its namespace alive, and out of ``sys.modules``.

    pythonfmu's run time imports the slave module by its bare name (``cell_ecm``) on every
    instantiation. pythonfmu 0.7.0 (FMI 2.0) releases one reference too many to the module's
    ``__dict__`` when it instantiates (measured: the namespace's reference count drops to zero
    while the module lives), which leaves a dead module in ``sys.modules`` -- the next FMU of
    that name fails to instantiate (PythonFMU issue #228) -- and later crashes the garbage
    collector. Holding one extra reference to the module and to its namespace per instantiation
    balances that, and removing the cache entry makes each instantiation import its own FMU's
    copy of the source.
    """
    module = sys.modules.get(name)
    if module is not None:
        _RETAINED_MODULES.append((module, module.__dict__))
        del sys.modules[name]


def _survive_exception_cleanup(slave: Any) -> None:
    """Let a slave raise without crashing the importing process later.

    When a slave method raises, the pythonfmu/pythonfmu3 run time releases its references to
    the slave instance, its class and its log queue (``cleanPyObject`` in
    ``handle_py_exception``) and releases them again when the instance is freed. One permanent
    extra reference to each absorbs the second release (a few objects leak per failed instance,
    instead of the garbage collector later visiting freed memory).
    """
    for obj in (slave, type(slave), slave.log_queue):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))


def _describe(exc: Exception) -> str:
    """A model's own errors speak for themselves; anything else gets its type named."""
    return str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"


def _default_value(var: Variable) -> Any:
    if var.start is not None:
        return list(var.start) if var.dimensions else var.start
    return {"Real": 0.0, "Integer": 0, "Boolean": False, "String": ""}[var.type]


class TwinSlaveCore:
    """Version-neutral part of a twin slave; the version class supplies ``_log``."""

    model_factory: ModelFactory
    model_description: str = ""
    resources: Any

    def _setup(self) -> None:
        _release_slave_module(type(self).__module__)
        self.model: SteppableModel = self.model_factory(self.resources)
        self.declared: dict[str, Variable] = {v.name: v for v in self.model.variables}
        self.values: dict[str, Any] = {v.name: _default_value(v) for v in self.model.variables}
        self.overridden: set[str] = set()
        self.initialized = False

    # -- variable access (bound as getter/setter by the version classes) -----------------------
    def _getter(self, name: str) -> Callable[[], Any]:
        return lambda: self.values[name]

    def _setter(self, name: str) -> Callable[[Any], None]:
        var = self.declared[name]

        def set_value(value: Any) -> None:
            if var.dimensions:
                value = [float(x) for x in value]
            if var.causality == "parameter":  # a value set by the importer wins over the parameter file
                self.overridden.add(name)
            self.values[name] = value

        return set_value

    # -- lifecycle --------------------------------------------------------------------------------
    def _log(self, message: str, level: str) -> None:  # overridden per FMI version
        raise NotImplementedError

    def exit_initialization_mode(self) -> None:
        """Build the model from the parameters; a bad parameter fails with a named log line."""
        params = {n: self.values[n] for n, v in self.declared.items() if v.causality == "parameter"}
        try:
            outputs = self.model.initialize(params, self.overridden)
        except Exception as exc:  # any failure: one named log line, then fail initialisation
            self._log(_describe(exc), "error")
            _survive_exception_cleanup(self)
            raise
        self.values.update(outputs)
        self.initialized = True

    def _step(self, current_time: float, step_size: float) -> bool:
        """One communication step; False (with a log line) when an input or result is bad."""
        inputs = {n: self.values[n] for n, v in self.declared.items() if v.causality == "input"}
        problem = self._input_problem(inputs)
        if problem is None:
            saved = self.model.get_state()
            try:
                outputs = self.model.step(inputs, current_time, step_size)
            except Exception as exc:  # never let an exception cross into the FMI run time
                problem = _describe(exc)
            else:
                bad = [n for n, v in outputs.items() if isinstance(v, float) and not math.isfinite(v)]
                if bad:  # the step is refused: back to where it started
                    self.model.set_state(saved)
                    problem = f"output {bad[0]} = {outputs[bad[0]]} at t = {current_time + step_size}"
        for warning in self.model.warnings():
            self._log(warning, "warning")
        if problem is not None:
            self._log(f"t = {current_time}: {problem}", "error")
            return False
        self.values.update(outputs)
        return True

    def _input_problem(self, inputs: dict[str, Any]) -> str | None:
        for name, value in inputs.items():
            var = self.declared[name]
            if var.type != "Real":
                continue
            if not math.isfinite(value):
                return f"input {name} = {value} is not finite"
            if (var.min is not None and value < var.min) or (var.max is not None and value > var.max):
                return f"input {name} = {value} {var.unit} is outside its range [{var.min}, {var.max}]"
        return None

    # -- FMU state: variable values plus the model's own state -------------------------------------
    def _get_fmu_state(self) -> dict[str, Any]:
        return {"values": dict(self.values), "overridden": sorted(self.overridden),
                "initialized": self.initialized, "model": self.model.get_state() if self.initialized else None}

    def _set_fmu_state(self, state: dict[str, Any]) -> None:
        self.values = dict(state["values"])
        self.overridden = set(state["overridden"])
        if state["initialized"] and not self.initialized:
            self.exit_initialization_mode()
        if state["model"] is not None:
            self.model.set_state(state["model"])
