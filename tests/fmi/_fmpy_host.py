"""A small fmpy-based slave loop used by the FMI tests: instantiate, set by name, step, read,
capture the FMU's log lines (FMI 2.0 and 3.0 through one interface)."""

from __future__ import annotations

from ctypes import byref
from pathlib import Path
from typing import Any

import fmpy
import numpy as np
from fmpy.fmi2 import FMU2Slave, fmi2CallbackFunctions, fmi2CallbackLoggerTYPE
from fmpy.fmi3 import FMU3Slave


class FmpyHost:
    """One instance of an FMU in this process, driven by fmpy's low-level classes."""

    def __init__(self, fmu: Path, instance: str = "cell", unzip_dir: str | None = None) -> None:
        self.md = fmpy.read_model_description(str(fmu))
        self.version = int(self.md.fmiVersion[0])
        self.unzip_dir = unzip_dir or fmpy.extract(str(fmu))
        self.vars = {v.name: v for v in self.md.modelVariables}
        self.logs: list[tuple[int, str]] = []
        cls = FMU2Slave if self.version == 2 else FMU3Slave
        self.fmu = cls(guid=self.md.guid, unzipDirectory=self.unzip_dir,
                       modelIdentifier=self.md.coSimulation.modelIdentifier, instanceName=instance)
        self.time = 0.0
        if self.version == 2:
            self._callbacks = fmi2CallbackFunctions()
            self._callbacks.logger = fmi2CallbackLoggerTYPE(self._log2)
            from fmpy.logging import addLoggerProxy

            addLoggerProxy(byref(self._callbacks))
            self.fmu.instantiate(callbacks=self._callbacks, loggingOn=True)
        else:
            self.fmu.instantiate(loggingOn=True, logMessage=self._log3)

    def _log2(self, env: Any, instance: bytes, status: int, category: bytes, message: bytes) -> None:
        self.logs.append((status, message.decode()))

    def _log3(self, env: Any, status: int, category: bytes, message: bytes) -> None:
        self.logs.append((status, message.decode()))

    def errors(self) -> list[str]:
        return [m for s, m in self.logs if s >= 3]

    def warnings(self) -> list[str]:
        return [m for s, m in self.logs if s == 1]

    def set(self, **values: Any) -> None:
        for name, value in values.items():
            var = self.vars[name]
            vr = [var.valueReference]
            if var.type in ("Real", "Float64"):
                values = [float(x) for x in value] if hasattr(value, "__len__") else [float(value)]
                (self.fmu.setReal if self.version == 2 else self.fmu.setFloat64)(vr, values)
            elif var.type in ("Integer", "Int32"):
                (self.fmu.setInteger if self.version == 2 else self.fmu.setInt32)(vr, [int(value)])
            elif var.type == "Boolean":
                self.fmu.setBoolean(vr, [bool(value)])
            else:
                self.fmu.setString(vr, [str(value)])

    def get(self, *names: str) -> list[float]:
        """Real values; an FMI 3.0 array gives all its elements."""
        vrs = [self.vars[n].valueReference for n in names]
        if self.version == 2:
            return list(self.fmu.getReal(vrs))
        sizes = [int(np.prod([int(d.start) for d in self.vars[n].dimensions])) for n in names]
        return list(self.fmu.getFloat64(vrs, nValues=sum(sizes)))

    def initialize(self, **parameters: Any) -> None:
        if self.version == 2:
            self.fmu.setupExperiment(startTime=0.0)
        self.set(**parameters)
        self.fmu.enterInitializationMode()
        self.fmu.exitInitializationMode()

    def step(self, dt: float) -> None:
        self.fmu.doStep(currentCommunicationPoint=self.time, communicationStepSize=dt)
        self.time += dt

    def run_current(self, current: Any, k0: int, k1: int, names: tuple[str, ...]) -> list[list[float]]:
        """Steps k0..k1-1 of 1 s at ``current[k]`` (positive = discharge); ``names`` after each."""
        out = []
        for k in range(k0, k1):
            self.set(current=current[k])
            self.step(1.0)
            out.append(self.get(*names))
        return out

    def reruns_from_saved_state(self, current: Any, k0: int, k1: int, names: tuple[str, ...]) -> list[list[Any]]:
        """Save the FMU state (after step k0), run to k1, then run the same steps again from the
        saved state and from its serialised copy: the three runs' outputs (a bit-identical restore
        makes them equal)."""
        state = self.fmu.getFMUState()
        blob = self.fmu.serializeFMUState(state)
        runs = [self.run_current(current, k0, k1, names)]
        for restore in (state, self.fmu.deserializeFMUState(blob)):
            self.fmu.setFMUState(restore)
            self.time = float(k0)
            runs.append(self.run_current(current, k0, k1, names))
        return runs

    def runs_after_restore(self, current: Any, k_save: int, k_end: int, names: tuple[str, ...]) -> list[list[Any]]:
        """Steps 0..k_save-1, then :meth:`reruns_from_saved_state` from there to k_end."""
        self.run_current(current, 0, k_save, names)
        return self.reruns_from_saved_state(current, k_save, k_end, names)

    def close(self) -> None:
        """Terminate (if the FMU still can) and free the instance; safe to call twice."""
        if self.fmu is None:
            return
        try:
            self.fmu.terminate()
        except Exception:  # an instance in the error state may refuse; free it anyway
            pass
        self.fmu.freeInstance()
        self.fmu = None
