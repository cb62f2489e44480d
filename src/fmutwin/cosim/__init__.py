"""The co-simulation master: couples any FMI 2.0 / 3.0 co-simulation FMUs through fmpy.

Knows FMI and nothing of batteries, in libcosim's split: :mod:`~fmutwin.cosim.system` (the system
description, checked and saved as SSD), :mod:`~fmutwin.cosim.algorithms` (Jacobi, Gauss-Seidel,
iterated with rollback), :mod:`~fmutwin.cosim.observers`, :mod:`~fmutwin.cosim.manipulators`, and
:mod:`~fmutwin.cosim.execution`, which runs them (:mod:`~fmutwin.cosim.component`: one FMU
instance on fmpy). :mod:`~fmutwin.cosim.scenario` reads a scenario file for ``fmutwin cosim run``.
"""

from fmutwin.cosim.algorithms import CouplingError, GaussSeidel, Iterated, Jacobi, make_algorithm
from fmutwin.cosim.component import ComponentError
from fmutwin.cosim.execution import CosimError, Execution
from fmutwin.cosim.manipulators import Event, InputSource, Override
from fmutwin.cosim.observers import FileWriter, LastValue, Recorder, read_results
from fmutwin.cosim.system import Component, Connection, System, SystemError, load, resolve, save

__all__ = ["Component", "ComponentError", "Connection", "CosimError", "CouplingError", "Event", "Execution",
           "FileWriter", "GaussSeidel", "InputSource", "Iterated", "Jacobi", "LastValue", "Override", "Recorder",
           "System", "SystemError", "load", "make_algorithm", "read_results", "resolve", "save"]
