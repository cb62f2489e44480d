"""Twins: state + parameters + a step that calls the equations. Testable with numpy alone."""

from fmutwin.twins.cell_ecm import CellECMTwin

__all__ = ["CellECMTwin"]
