"""FMI 2.0 binding of the twin slave (pythonfmu). FMI 2.0 has no arrays: an array variable is
exposed as indexed scalars ``name[1]``, ``name[2]``, ... (``name[i,j]`` for 2-D), row-major."""

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
            writable = var.causality not in ("output", "calculatedParameter")
            for k, name in enumerate(var.element_names()):
                getter, setter = ((self._element_getter(var.name, k), self._element_setter(var.name, k))
                                  if var.dimensions else (self._getter(var.name), self._setter(var.name)))
                self.register_variable(_TYPES[var.type](
                    name, causality=Fmi2Causality[var.causality], variability=Fmi2Variability[var.variability],
                    description=var.description, getter=getter, setter=setter if writable else None))

    def _log(self, message: str, level: str) -> None:
        self.log(message, _STATUS[level])

    def do_step(self, current_time: float, step_size: float) -> bool:
        return self._step(current_time, step_size)

    def to_xml(self, model_options: dict[str, str] = dict()) -> Element:  # noqa: B006 (pythonfmu's signature)
        return complete(super().to_xml(model_options), self.model.variables, 2, self.model_description,
                        self.model.output_dependencies())
