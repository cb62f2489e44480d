"""Typed, validated parameter sets (pydantic), saved and loaded as JSON."""

from fmutwin.params.base import ParameterError
from fmutwin.params.cell import CellParameters
from fmutwin.params.defaults import default_cell_parameters
from fmutwin.params.tables import Table

__all__ = ["CellParameters", "ParameterError", "Table", "default_cell_parameters"]
