"""The FMI slave logic written once for every twin and both FMI versions.

A slave holds the values of the declared variables, hands parameters to the model at the end
of initialisation, checks inputs before and outputs after every step, logs one line per problem
naming the variable and value, and saves/restores the complete state. ``fmi2`` and ``fmi3``
only bind this to pythonfmu's and pythonfmu3's base classes.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any, Callable, Mapping

import numpy as np

from fmutwin.interface import ModelError, SteppableModel, Variable, flat, value_problem

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


_CONVERT: dict[str, Callable[[Any], Any]] = {"Real": float, "Integer": int, "Boolean": bool, "String": str}


def _default_value(var: Variable) -> Any:
    if var.start is not None:
        return [_CONVERT[var.type](x) for x in flat(var.start)] if var.dimensions else var.start
    zero = _CONVERT[var.type]("" if var.type == "String" else 0)
    return [zero] * var.size if var.dimensions else zero


class TwinSlaveCore:
    """Version-neutral part of a twin slave; the version class supplies ``_log``.

    Values of the declared variables live in ``values`` by name (arrays as flat lists, row-major).
    Every value is checked against its declaration (:func:`fmutwin.interface.value_problem`):
    parameters at the end of initialisation, inputs before every step. After a failed step the
    instance only answers getters: further steps are refused (reset or free it), as the FMI state
    machine has it.
    """

    model_factory: ModelFactory
    model_description: str = ""
    resources: Any

    def _setup(self) -> None:
        _release_slave_module(type(self).__module__)
        self.model: SteppableModel = self.model_factory(self.resources)
        self.declared: dict[str, Variable] = {v.name: v for v in self.model.variables}
        #: outputs with validity limits (declared min/max), checked after every step
        self.limited = tuple(n for n, v in self.declared.items() if v.causality == "output" and v.type == "Real"
                             and (v.min is not None or v.max is not None))
        self.values: dict[str, Any] = {v.name: _default_value(v) for v in self.model.variables}
        self.overridden: set[str] = set()
        self.initialized = False
        self.failed = False
        self.initializing = False  # in initialisation mode
        self.looked = False  # the outputs follow the values set so far in initialisation mode

    # -- variable access (bound as getter/setter by the version classes) -----------------------
    def _getter(self, name: str) -> Callable[[], Any]:
        if self.declared[name].causality == "output":
            return lambda: self._output(name)
        return lambda: self.values[name]

    def _element_getter(self, name: str, k: int) -> Callable[[], Any]:
        """Element ``k`` of an array (FMI 2.0 exposes arrays as indexed scalars)."""
        if self.declared[name].causality == "output":
            return lambda: self._output(name)[k]
        return lambda: self.values[name][k]

    def _output(self, name: str) -> Any:
        """An output; read in initialisation mode, the one at the initial state from the
        parameters and inputs set so far (evaluated once per change; a failure is logged as a
        warning and leaves the start values: the end of initialisation reports it)."""
        if self.initializing and not self.looked:
            self.looked = True
            try:
                self._take_outputs(self._initial_outputs(), 0.0)
            except Exception as exc:  # noqa: BLE001 (any failure: logged, initialisation decides)
                self._log(f"outputs read during initialisation: {_describe(exc)}", "warning")
        return self.values[name]

    def _setter(self, name: str) -> Callable[[Any], None]:
        var = self.declared[name]
        convert = _CONVERT[var.type]

        def set_value(value: Any) -> None:
            self._touch(var)
            self.values[name] = [convert(x) for x in flat(value)] if var.dimensions else convert(value)

        return set_value

    def _element_setter(self, name: str, k: int) -> Callable[[Any], None]:
        var = self.declared[name]
        convert = _CONVERT[var.type]

        def set_element(value: Any) -> None:
            self._touch(var)
            self.values[name][k] = convert(value)

        return set_element

    def _touch(self, var: Variable) -> None:
        self.looked = False
        if var.causality == "parameter":  # a value set by the importer wins over the parameter file
            self.overridden.add(var.name)

    # -- lifecycle --------------------------------------------------------------------------------
    def _log(self, message: str, level: str) -> None:  # overridden per FMI version
        raise NotImplementedError

    def _model_values(self, causality: str) -> dict[str, Any]:
        """The current values of one causality, arrays shaped by their dimensions."""
        return {n: np.reshape(self.values[n], v.dimensions) if v.dimensions else self.values[n]
                for n, v in self.declared.items() if v.causality == causality}

    def _problem(self, causality: str) -> str | None:
        """The first declared variable of ``causality`` whose value is invalid, named with its value."""
        for name, var in self.declared.items():
            if var.causality == causality:
                problem = value_problem(var, self.values[name], self.values)
                if problem:
                    return f"{causality} {problem}"
        return None

    def _initial_outputs(self) -> dict[str, Any]:
        """The model built from the values set so far, and its outputs at the initial state (a bad
        parameter or input raises :class:`ModelError` naming it)."""
        problem = self._problem("parameter") or self._problem("input")
        if problem:
            raise ModelError(problem)
        return self.model.initialize(self._model_values("parameter"), self.overridden, self._model_values("input"))

    def enter_initialization_mode(self) -> None:
        self.initializing, self.looked = True, False

    def exit_initialization_mode(self) -> None:
        """Build the model from the parameters; a bad parameter fails with a named log line. The
        outputs are those at the initial state with the inputs set during initialisation."""
        self.initializing = False
        try:
            outputs = self._initial_outputs()
        except Exception as exc:  # any failure: one named log line, then fail initialisation
            self._log(_describe(exc), "error")
            _survive_exception_cleanup(self)
            raise
        self._take_outputs(outputs, 0.0)
        self.initialized = True

    def _step(self, current_time: float, step_size: float) -> bool:
        """One communication step; False (with a log line) when an input or result is bad."""
        if self.failed:
            self._log(f"t = {current_time}: a previous step failed; reset or free the instance", "error")
            return False
        problem = self._problem("input")
        if problem is None:
            saved = self.model.get_state()
            try:
                outputs = self.model.step(self._model_values("input"), current_time, step_size)
            except Exception as exc:  # never let an exception cross into the FMI run time
                problem = _describe(exc)
            else:
                bad = [n for n, v in outputs.items() if self.declared[n].type == "Real"
                       and not np.all(np.isfinite(np.asarray(v, dtype=float)))]
                if bad:  # the step is refused: back to where it started
                    self.model.set_state(saved)
                    problem = f"output {bad[0]} = {outputs[bad[0]]} at t = {current_time + step_size}"
                else:
                    problem = self._limit_crossed(outputs, saved, current_time, step_size)
        for warning in self.model.warnings():
            self._log(warning, "warning")
        if problem is not None:
            self._log(f"t = {current_time}: {problem}", "error")
            self.failed = True
            return False
        self._take_outputs(outputs, current_time + step_size)
        return True

    def _outside_limits(self, outputs: Mapping[str, Any]) -> tuple[str, float, float] | None:
        """The first output outside its validity limits (an output's declared min/max): (name,
        value, the limit it passed)."""
        for name in self.limited:
            lo, hi = self.declared[name].bounds(self.values)
            for element in np.asarray(outputs[name], dtype=float).ravel():
                if element < lo or element > hi:
                    return name, float(element), (hi if element > hi else lo)
        return None

    def _limit_crossed(self, outputs: Mapping[str, Any], saved: Any, time_s: float, dt_s: float) -> str | None:
        """None if every output is within its validity limits; else the model goes back to the
        step's start and the message names the limit and when it was crossed (bisection on the
        step length with the same inputs, to 1e-6 of the step)."""
        crossed = self._outside_limits(outputs)
        if crossed is None:
            return None
        name, value, limit = crossed
        inputs, inside, outside = self._model_values("input"), 0.0, dt_s
        while outside - inside > 1e-6 * dt_s:
            trial = 0.5 * (inside + outside)
            self.model.set_state(saved)
            try:
                result = self._outside_limits(self.model.step(inputs, time_s, trial))
            except Exception:  # noqa: BLE001 - a failing part-step counts as past the limit
                result = crossed
            inside, outside = (inside, trial) if result is not None else (trial, outside)
        self.model.set_state(saved)
        unit = f" {self.declared[name].unit}" if self.declared[name].unit not in (None, "1") else ""
        return (f"output {name} = {value:.6g}{unit} at the end of the step passes its limit {limit:g}{unit}: "
                f"reached at t = {time_s + 0.5 * (inside + outside):.6f} s; the step from t = {time_s} to "
                f"{time_s + dt_s} is refused and the state stays at its start")

    def _take_outputs(self, outputs: dict[str, Any], time_s: float) -> None:
        """Store the outputs (arrays flattened) and log those outside their declared warn range."""
        for name, value in outputs.items():
            var = self.declared[name]
            if var.dimensions:
                self.values[name] = np.asarray(value, dtype=float).ravel().tolist() if var.type == "Real" else \
                    [_CONVERT[var.type](x) for x in flat(value)]
            else:
                self.values[name] = value
            if var.warn_range is not None:
                lo, hi = var.warn_range
                elements = np.asarray(value, dtype=float).ravel()
                outside = np.flatnonzero(~((lo <= elements) & (elements <= hi)))
                if outside.size:
                    k = int(outside[0])
                    where = f"{name}[{k + 1}]" if var.dimensions else name
                    self._log(f"t = {time_s}: {where} = {elements[k]:.6g} outside [{lo:g}, {hi:g}]", "warning")

    # -- FMU state: variable values plus the model's own state -------------------------------------
    def _get_fmu_state(self) -> dict[str, Any]:
        return {"values": {k: list(v) if isinstance(v, list) else v for k, v in self.values.items()},
                "overridden": sorted(self.overridden), "initialized": self.initialized, "failed": self.failed,
                "model": self.model.get_state() if self.initialized else None}

    def _set_fmu_state(self, state: dict[str, Any]) -> None:
        self.values = {k: list(v) if isinstance(v, list) else v for k, v in state["values"].items()}
        self.overridden = set(state["overridden"])
        self.failed = bool(state.get("failed", False))
        if state["initialized"] and not self.initialized:
            self.exit_initialization_mode()
        if state["model"] is not None:
            self.model.set_state(state["model"])
