"""One FMU instance in the master, on fmpy's FMU2Slave / FMU3Slave (fmpy loads the binary and
declares the FMI functions; this class calls them with buffers made once, so a step costs three
FMI calls and no Python lists).

Values cross the master as float64: ``inputs`` holds every input signal (an FMI 3.0 array is set
whole, so the array's every element is here, start values where nothing writes), ``outputs``
every output signal; Integer and Boolean signals are converted at the call. Every FMI error
raises :class:`ComponentError` with the component's name, the FMI function, the time and the
FMU's own log lines.
"""

from __future__ import annotations

import ctypes
from time import perf_counter
from typing import Any

import numpy as np

from fmutwin.cosim.system import Interface, Signal, array_size


class ComponentError(RuntimeError):
    """An FMU call failed: names the component, the call, the simulation time and what it logged."""

    def __init__(self, component: str, call: str, time_s: float, messages: list[str]) -> None:
        self.component, self.call, self.time_s, self.messages = component, call, time_s, messages
        log = "; ".join(messages[-5:]) or "no log message"
        super().__init__(f"component {component!r}: {call} failed at t = {time_s:g} s: {log}")


class _Port:
    """The signals of one causality as typed blocks: value references in the order of
    ``signals`` (Real, then Integer, then Boolean), and the float64 vector of their values."""

    def __init__(self, signals: list[Signal], version: int) -> None:
        by_type: dict[str, list[Signal]] = {"Real": [], "Integer": [], "Boolean": []}
        for s in signals:
            if s.type in by_type:
                by_type[s.type].append(s)
        self.signals = [s for kind in by_type.values() for s in kind]
        self.index = {s.name: i for i, s in enumerate(self.signals)}
        self.values = np.array([_start(s) for s in self.signals], dtype=float)
        self.blocks: list[tuple[str, Any, int, int, slice]] = []
        at = 0
        ctype = {"Real": ctypes.c_double, "Integer": ctypes.c_int32,
                 "Boolean": ctypes.c_int32 if version == 2 else ctypes.c_bool}
        for kind, sigs in by_type.items():
            if not sigs:
                continue
            vrs: list[int] = []
            for s in sigs:
                if not vrs or s.element == 0:
                    vrs.append(s.variable.valueReference)
            vr_array = (ctypes.c_uint32 * len(vrs))(*vrs)
            self.blocks.append((kind, vr_array, len(vrs), len(sigs), slice(at, at + len(sigs))))
            at += len(sigs)
        self._scratch = {kind: (ctype[kind] * n)() for kind, _, _, n, _ in self.blocks if kind != "Real"}
        #: numpy views of the Integer and Boolean buffers, for conversion without Python loops
        self._views = {kind: np.frombuffer(buf, dtype=np.int32 if ctype[kind] is ctypes.c_int32 else np.bool_)
                       for kind, buf in self._scratch.items()}


def _start(s: Signal) -> float:
    start = s.variable.start
    if start is None:
        return 0.0 if s.type != "Real" else float("nan")
    if isinstance(start, str):
        parts = start.split()
        value = parts[s.element] if len(parts) > s.element else parts[0]
    else:
        value = start
    if s.type == "Boolean":
        return float(str(value).lower() in ("true", "1"))
    return float(value)


class Component:
    """A live instance of one FMU: instantiated, initialised, stepped, its state saved and
    restored, always freed by :meth:`free`."""

    def __init__(self, name: str, unzip_dir: str, interface: Interface, logging_on: bool = True) -> None:
        self.name = name
        self.interface = interface
        md = interface.md
        self.version = interface.version
        self.unzip_dir = unzip_dir
        self.messages: list[str] = []
        self.time_s = 0.0
        signals = list(interface.signals.values())
        self.inputs = _Port([s for s in signals if s.causality == "input"], self.version)
        self.outputs = _Port([s for s in signals if s.causality == "output"], self.version)
        self._written: dict[str, list[Any]] = {}
        self._failed = self._initialized = False
        self.can_rollback = bool(md.coSimulation.canGetAndSetFMUstate)
        kwargs = dict(guid=md.guid, unzipDirectory=self.unzip_dir, modelIdentifier=md.coSimulation.modelIdentifier,
                      instanceName=name)
        if self.version == 2:
            from fmpy.fmi2 import FMU2Slave, fmi2CallbackFunctions, fmi2CallbackLoggerTYPE
            from fmpy.logging import addLoggerProxy

            self.fmu = self._call("loading the FMU's binary", lambda: FMU2Slave(**kwargs))
            self._callbacks = fmi2CallbackFunctions()
            self._callbacks.logger = fmi2CallbackLoggerTYPE(self._log2)
            addLoggerProxy(ctypes.byref(self._callbacks))
            self._call("instantiate", lambda: self.fmu.instantiate(callbacks=self._callbacks, loggingOn=logging_on))
            f = self.fmu
            self._state = ctypes.c_void_p()
            self._get_state, self._set_state, self._free_state = f.fmi2GetFMUstate, f.fmi2SetFMUstate, \
                f.fmi2FreeFMUstate
        else:
            from fmpy.fmi3 import FMU3Slave

            self.fmu = self._call("loading the FMU's binary", lambda: FMU3Slave(**kwargs))
            self._log3_ref = self._log3
            self._call("instantiate", lambda: self.fmu.instantiate(loggingOn=logging_on, logMessage=self._log3_ref))
            f = self.fmu
            self._state = ctypes.c_void_p()
            self._get_state, self._set_state, self._free_state = f.fmi3GetFMUState, f.fmi3SetFMUState, \
                f.fmi3FreeFMUState
            self._step_flags = (ctypes.c_bool(), ctypes.c_bool(), ctypes.c_bool(), ctypes.c_double())
        self._freed = False
        self.fmi_s = 0.0  # time inside the FMU's step, set and get calls
        self._prepare()

    # -- logging and errors ------------------------------------------------------------------
    def _log2(self, env: Any, instance: bytes, status: int, category: bytes, message: bytes) -> None:
        self.messages.append(f"[{_STATUS[min(status, 5)]}] {message.decode(errors='replace')}")

    def _log3(self, env: Any, status: int, category: bytes, message: bytes) -> None:
        self.messages.append(f"[{_STATUS[min(status, 5)]}] {message.decode(errors='replace')}")

    def _call(self, what: str, fn: Any) -> Any:
        """An FMI call through fmpy's wrapper; a failure (an error status, or fmpy's own exception
        for an instance it could not make) is a :class:`ComponentError`."""
        from fmpy.fmi1 import FMICallException

        try:
            return fn()
        except FMICallException as exc:
            self._failed = True
            raise ComponentError(self.name, what, self.time_s,
                                 [m for m in self.messages if m.startswith(("[error]", "[fatal]", "[warning]"))]
                                 or [str(exc)]) from None
        except Exception as exc:  # noqa: BLE001 - fmpy raises plain exceptions, e.g. "Failed to instantiate"
            self._failed = True
            raise ComponentError(self.name, what, self.time_s, self._problems() or [str(exc)]) from None

    # -- set-up ------------------------------------------------------------------------------
    def initialize(self, start_s: float, stop_s: float | None, parameters: dict[str, Any]) -> None:
        """Set-up and the parameter values, then initialisation mode (the master sets the inputs,
        once, in :meth:`exit_initialization`)."""
        self.time_s = start_s
        if self.version == 2:
            self._call("fmi2SetupExperiment", lambda: self.fmu.setupExperiment(startTime=start_s, stopTime=stop_s))
            self._set_parameters(parameters)
            self._call("fmi2EnterInitializationMode", self.fmu.enterInitializationMode)
        else:
            self._set_parameters(parameters)
            self._call("fmi3EnterInitializationMode",
                       lambda: self.fmu.enterInitializationMode(startTime=start_s, stopTime=stop_s))

    def exit_initialization(self) -> None:
        self.write_inputs()
        self._call("exitInitializationMode", self.fmu.exitInitializationMode)
        self._initialized = True
        self.read_outputs()

    def _set_parameters(self, parameters: dict[str, Any]) -> None:
        for key, value in parameters.items():
            signals = self.interface.expand(key, f"component {self.name!r} parameter")
            values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * len(signals)
            if len(values) != len(signals):
                raise ComponentError(self.name, f"setting {key}", self.time_s,
                                     [f"{len(values)} values for {len(signals)} elements"])
            for sig, v in zip(signals, values):
                if sig.name in self.inputs.index:  # an input's start value: kept in the input vector too
                    self.inputs.values[self.inputs.index[sig.name]] = float(v)
            self._write_variables(signals, values)

    def _write_variables(self, signals: list[Signal], values: list[Any]) -> None:
        """Set whole variables: an FMI 3.0 array needs all its elements, so the master keeps each
        array's values as last written (from its start values) and changes only the named ones."""
        grouped: dict[str, list[Any]] = {}
        for sig, v in zip(signals, values):
            var = sig.variable
            if var.name not in grouped:
                grouped[var.name] = self._written.setdefault(
                    var.name, [_start(Signal("", var, i, sig.type, sig.causality, None))
                               for i in range(array_size(var) or 1)])
            grouped[var.name][sig.element] = v
        for var_name, vals in grouped.items():
            var = self.interface.variables[var_name]
            kind = {"Float64": "Real", "Int32": "Integer"}.get(var.type, var.type)
            vr = [var.valueReference]
            f = self.fmu
            if kind == "Real":
                setter = f.setReal if self.version == 2 else f.setFloat64
                self._call(f"set {var_name}", lambda: setter(vr, [float(x) for x in vals]))
            elif kind == "Integer":
                setter = f.setInteger if self.version == 2 else f.setInt32
                self._call(f"set {var_name}", lambda: setter(vr, [int(x) for x in vals]))
            elif kind == "Boolean":
                self._call(f"set {var_name}", lambda: f.setBoolean(vr, [bool(x) for x in vals]))
            elif kind == "String":
                self._call(f"set {var_name}", lambda: f.setString(vr, [str(x) for x in vals]))
            else:
                raise ComponentError(self.name, f"set {var_name}", self.time_s, [f"type {var.type} is not supported"])

    # -- stepping ----------------------------------------------------------------------------
    # The hot path calls the FMU's functions as fmpy loaded them (``FMU2Slave._functions``, with
    # their ctypes prototypes), without fmpy's per-call Python wrapper, on pointers made once:
    # the master's own time per component step stays a few microseconds.
    def _prepare(self) -> None:
        raw = self.fmu._functions
        prefix = "fmi2" if self.version == 2 else "fmi3"
        names = {"Real": "Real" if self.version == 2 else "Float64", "Integer": "Integer" if self.version == 2 else
                 "Int32", "Boolean": "Boolean"}
        comp = self.fmu.component
        self._calls: dict[str, list[tuple[Any, tuple[Any, ...], Any]]] = {}
        for direction, port in (("Set", self.inputs), ("Get", self.outputs)):
            calls = []
            for kind, vrs, nvr, n, where in port.blocks:
                f = raw[f"{prefix}{direction}{names[kind]}"]
                buf = port.values[where] if kind == "Real" else port._scratch[kind]
                ptr = buf.ctypes.data_as(ctypes.POINTER(ctypes.c_double)) if kind == "Real" else buf
                args = (comp, vrs, nvr, ptr) if self.version == 2 else (comp, vrs, nvr, ptr, n)
                calls.append((f, args, None if kind == "Real" else (kind, where)))
            self._calls[direction] = calls
        self._raw_step = raw[f"{prefix}DoStep"]

    def write_inputs(self) -> None:
        """Set every input from :attr:`inputs` (one FMI call per type)."""
        values = self.inputs.values
        t0 = perf_counter()
        for f, args, typed in self._calls["Set"]:
            if typed is not None:
                kind, where = typed
                self.inputs._views[kind][:] = np.rint(values[where]) if kind == "Integer" else values[where] != 0.0
            if f(*args) > 1:
                self._failed = True
                raise ComponentError(self.name, "set inputs", self.time_s, self._problems() or ["error status"])
        self.fmi_s += perf_counter() - t0

    def read_outputs(self) -> None:
        """Get every output into :attr:`outputs` (one FMI call per type)."""
        values = self.outputs.values
        t0 = perf_counter()
        for f, args, typed in self._calls["Get"]:
            if f(*args) > 1:
                self._failed = True
                raise ComponentError(self.name, "get outputs", self.time_s, self._problems() or ["error status"])
            if typed is not None:
                kind, where = typed
                values[where] = self.outputs._views[kind]
        self.fmi_s += perf_counter() - t0

    def _problems(self) -> list[str]:
        return [m for m in self.messages if m.startswith(("[error]", "[fatal]"))]

    def do_step(self, time_s: float, step_s: float, rollback: bool = False) -> None:
        """One communication step from ``time_s``; ``rollback``: the master may set an earlier state.
        A status above warning (discard, error, fatal) is a :class:`ComponentError`."""
        self.time_s = time_s
        t0 = perf_counter()
        if self.version == 2:
            status = self._raw_step(self.fmu.component, time_s, step_s, 0 if rollback else 1)
        else:
            e, t, r, last = self._step_flags
            status = self._raw_step(self.fmu.component, time_s, step_s, not rollback, ctypes.byref(e),
                                    ctypes.byref(t), ctypes.byref(r), ctypes.byref(last))
            if status <= 1 and t.value:
                status = 3
                self.messages.append("[error] the FMU asked to terminate the simulation")
        self.fmi_s += perf_counter() - t0
        if status > 1:
            self._failed = True
            raise ComponentError(self.name, "doStep", time_s, self._problems() or
                                 [f"status {_STATUS[min(status, 5)]} without a log message"])
        self.time_s = time_s + step_s

    def save_state(self) -> None:
        """Keep the FMU's state (one state object per instance, overwritten each call)."""
        t0 = perf_counter()
        self._call("getFMUState", lambda: self._get_state(self.fmu.component, ctypes.byref(self._state)))
        self.fmi_s += perf_counter() - t0

    def restore_state(self, time_s: float) -> None:
        t0 = perf_counter()
        self._call("setFMUState", lambda: self._set_state(self.fmu.component, self._state))
        self.fmi_s += perf_counter() - t0
        self.time_s = time_s

    def free(self) -> None:
        """Free the instance, safe to call twice: terminated first where the state machine allows it
        (initialised and no call failed), its saved state freed, then freeInstance, always."""
        if self._freed:
            return
        self._freed = True
        if not self._failed:
            try:
                if self._state.value:
                    self._free_state(self.fmu.component, ctypes.byref(self._state))
                if self._initialized:
                    self.fmu.terminate()
            except Exception:  # noqa: BLE001 - freeing continues whatever the FMU reports
                pass
        try:
            self.fmu.freeInstance()
        except Exception:  # noqa: BLE001 - the instance is gone either way
            pass


_STATUS = ("ok", "warning", "discard", "error", "fatal", "pending")
