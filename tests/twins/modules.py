"""Module parameter sets for tests, built on the shipped cell."""

from __future__ import annotations

from typing import Any

from cells import cell_dict
from fmutwin.params import CellParameters, default_cell_parameters
from fmutwin.params.module import ModuleParameters


def make_module(n_series: int, n_parallel: int, cell: CellParameters | None = None, **changes: Any) -> ModuleParameters:
    """A module of the default cell (or ``cell``), top-level fields replaced by ``changes``."""
    data = {"name": f"test_{n_series}s{n_parallel}p", "source": "test", "n_series": n_series, "n_parallel": n_parallel,
            "cell": (cell or default_cell_parameters()).model_dump(exclude_none=True), **changes}
    if isinstance(data["cell"], CellParameters):
        data["cell"] = data["cell"].model_dump(exclude_none=True)
    return ModuleParameters.from_dict(data)


def one_direction_cell(**changes: Any) -> CellParameters:
    """The default cell with its discharge tables in both directions and no entropic heat (what the
    independent circuit reference below models)."""
    data = cell_dict(entropic_coefficient_V_per_K=0.0, **changes)
    data.pop("r0_charge_ohm", None)
    data["rc_branches"] = [{k: v for k, v in b.items() if "charge" not in k} for b in data["rc_branches"]]
    return CellParameters.from_dict(data)
