"""FMI 2.0 binding of the twin slave (pythonfmu)."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from pythonfmu import Boolean, Fmi2Causality, Fmi2Slave, Fmi2Variability, Integer, Real, String
from pythonfmu.enums import Fmi2Status

from fmutwin.fmi.model_description import complete
from fmutwin.fmi.slave import TwinSlaveCore

_TYPES = {"Real": Real, "Integer": Integer, "Boolean": Boolean, "String": String}
_STATUS = {"warning": Fmi2Status.warning, "error": Fmi2Status.error}
OPTIONS = {"canGetAndSetFMUstate": True, "canSerializeFMUstate": True, "needsExecutionTool": True,
           "canHandleVariableCommunicationStepSize": True}


class Fmi2TwinSlave(TwinSlaveCore, Fmi2Slave):
    """A pythonfmu slave around a twin's declared variables."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup()
        self.description = self.model_description
        for var in self.model.variables:
            if var.dimensions:  # FMI 2.0 has no arrays: tables come from the parameter file only
                continue
            self.register_variable(_TYPES[var.type](
                var.name, causality=Fmi2Causality[var.causality], variability=Fmi2Variability[var.variability],
                description=var.description, getter=self._getter(var.name),
                setter=None if var.causality in ("output", "calculatedParameter") else self._setter(var.name)))

    def _log(self, message: str, level: str) -> None:
        self.log(message, _STATUS[level])

    def do_step(self, current_time: float, step_size: float) -> bool:
        return self._step(current_time, step_size)

    def to_xml(self, model_options: dict[str, str] = dict()) -> Element:  # noqa: B006 (pythonfmu's signature)
        scalars = [v for v in self.model.variables if not v.dimensions]
        return complete(super().to_xml(model_options), scalars, 2, self.model_description)
