"""Pieces shared by the FMU benchmarks: fmpy instances that are always freed, machine load from
/proc/stat, and the exit wrapper around pythonfmu's exit-time crash."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

import fmpy
from fmpy.fmi2 import FMU2Slave
from fmpy.fmi3 import FMU3Slave


class FmpyInstances:
    """One FMU, extracted once; :meth:`open` instantiates and initialises a fresh instance.

    Every instance is freed by :meth:`close` or :meth:`close_all`: pythonfmu instances left to the
    garbage collector can crash the process.
    """

    def __init__(self, fmu: Path, unzip_dir: Path) -> None:
        self.md = fmpy.read_model_description(str(fmu))
        self.version = int(self.md.fmiVersion[0])
        self.unzip_dir = fmpy.extract(str(fmu), unzipdir=str(unzip_dir))
        self.vrs = {v.name: v.valueReference for v in self.md.modelVariables}
        self.open_instances: list[Any] = []

    def open(self, reals: Mapping[str, float] | None = None, strings: Mapping[str, str] | None = None
             ) -> tuple[Any, Callable, Callable]:
        """(instance, set_real, get_real) of a new instance initialised with the given start values."""
        cls = FMU2Slave if self.version == 2 else FMU3Slave
        fmu = cls(guid=self.md.guid, unzipDirectory=self.unzip_dir,
                  modelIdentifier=self.md.coSimulation.modelIdentifier, instanceName="cell")
        fmu.instantiate()  # fmpy's default logger prints whatever the FMU logs (nothing when all is well)
        self.open_instances.append(fmu)
        set_real = fmu.setReal if self.version == 2 else fmu.setFloat64
        get_real = fmu.getReal if self.version == 2 else fmu.getFloat64
        if self.version == 2:
            fmu.setupExperiment(startTime=0.0)
        if strings:
            fmu.setString([self.vrs[n] for n in strings], list(strings.values()))
        if reals:
            set_real([self.vrs[n] for n in reals], [float(v) for v in reals.values()])
        fmu.enterInitializationMode()
        fmu.exitInitializationMode()
        return fmu, set_real, get_real

    def close(self, fmu: Any) -> None:
        """Terminate (an instance in the error state may refuse) and free."""
        try:
            fmu.terminate()
        except Exception:
            pass
        fmu.freeInstance()
        self.open_instances.remove(fmu)

    def close_all(self) -> None:
        """Free any instance a failed run left open."""
        for fmu in list(self.open_instances):
            self.close(fmu)


def us06_steps(scale: float, dt_s: float = 1.0) -> list[float]:
    """US06 currents (positive = discharge) times ``scale``, one per step of ``dt_s``:
    ``current[k]`` is held from ``time_s[k]`` to ``time_s[k+1]``."""
    import numpy as np

    from fmutwin.data import drive_cycle

    time_s, current = drive_cycle("US06", scale=scale)
    if not np.all(np.diff(time_s) == dt_s):
        raise ValueError(f"US06 is not tabulated at {dt_s} s steps")
    return [float(i) for i in current[:-1]]


def cpu_ticks() -> tuple[int, int] | None:
    """(busy, steal) clock ticks of the whole machine so far, from /proc/stat (None elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


def run_then_exit(main: Callable[[], None]) -> None:
    """Run ``main`` and end the process with ``os._exit`` after flushing.

    The FMU binaries of pythonfmu 0.7.0 and pythonfmu3 0.3.4 have STB_GNU_UNIQUE symbols, so the
    first one loaded stays loaded after freeInstance/dlclose; at process exit its library
    destructor finalizePythonInterpreter() assigns nullptr to the global
    std::shared_ptr<PyState> that the C++ static destructors have already destroyed, writing into
    the freed control block (valgrind: invalid read in finalizePythonInterpreter of a block freed
    in __run_exit_handlers), and libgfortran's destructor then aborts in free() ("corrupted
    double-linked list", SIGABRT, exit status 134) after all results were written.
    tests/fmi/c_host/fmu_host.c describes the same bug and ends the same way.
    """
    try:
        main()
    except BaseException:  # noqa: BLE001  -- report, then exit without the exit handlers
        traceback.print_exc()
        status = 1
    else:
        status = 0
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
