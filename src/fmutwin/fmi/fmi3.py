"""FMI 3.0 binding of the twin slave (pythonfmu3)."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from pythonfmu3 import (Boolean, Dimension, Fmi3Causality, Fmi3Slave, Fmi3Status, Fmi3StepResult, Fmi3Variability,
                        Float64, Int32, String)

from fmutwin.fmi.model_description import complete
from fmutwin.fmi.slave import TwinSlaveCore

_TYPES = {"Real": Float64, "Integer": Int32, "Boolean": Boolean, "String": String}
_STATUS = {"warning": Fmi3Status.warning, "error": Fmi3Status.error}
OPTIONS = {"canGetAndSetFMUState": True, "canSerializeFMUState": True, "needsExecutionTool": True,
           "canHandleVariableCommunicationStepSize": True}


class Fmi3TwinSlave(TwinSlaveCore, Fmi3Slave):
    """A pythonfmu3 slave around a twin's declared variables."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup()
        self.description = self.model_description
        self.register_variable(Float64("time", causality=Fmi3Causality.independent,
                                       variability=Fmi3Variability.continuous, description="simulation time",
                                       getter=lambda: self.values.get("time", 0.0), setter=None))
        for var in self.model.variables:
            extra = {"dimensions": [Dimension(start=str(n)) for n in var.dimensions]} if var.dimensions else {}
            self.register_variable(_TYPES[var.type](
                var.name, causality=Fmi3Causality[var.causality], variability=Fmi3Variability[var.variability],
                description=var.description, getter=self._getter(var.name),
                setter=None if var.causality in ("output", "calculatedParameter") else self._setter(var.name),
                **extra))

    def _log(self, message: str, level: str) -> None:
        self.log(message, _STATUS[level])

    def do_step(self, current_time: float, step_size: float) -> Fmi3StepResult:
        ok = self._step(current_time, step_size)
        self.values["time"] = current_time + step_size if ok else current_time
        return Fmi3StepResult(status=Fmi3Status.ok if ok else Fmi3Status.error)

    def to_xml(self, model_options: dict[str, str] = dict()) -> Element:  # noqa: B006 (pythonfmu3's signature)
        return complete(super().to_xml(model_options), self.model.variables, 3, self.model_description,
                        self.model.output_dependencies())
