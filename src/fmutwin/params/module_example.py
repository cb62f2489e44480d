"""The shipped example module (``data/module_example.json``), made from the shipped cell by
:func:`module_example` (a test re-makes it and compares), with a provenance record: how it was
assembled, from which cell file (content and record hashes), and the variation it realised."""

from __future__ import annotations

from fmutwin.params.cell import CellParameters
from fmutwin.params.module import ModuleParameters


def module_example(cell: CellParameters) -> ModuleParameters:
    """12 series elements of 4 parallel cells of ``cell``, 2 % capacity and 5 % R0 variation
    (seeded), interconnects and a thermal grid: illustrative values, not a particular module."""
    from fmutwin.provenance import attach, content_sha256

    params = ModuleParameters(
        name="module_example_12s4p",
        source=(f"fmutwin example: 12 series elements of 4 parallel cells of the cell set {cell.name!r}, 2 % capacity "
                "and 5 % R0 variation (seeded normal), tab 0.1 mOhm, busbar segments 50 uOhm (parallel) and 0.1 mOhm "
                "(series), cells in a grid of 4 columns conducting 0.5 W/K to their neighbours and 2 W/K to the cold "
                "plate; illustrative values, not a particular module."),
        cell=cell, n_series=12, n_parallel=4,
        interconnect={"tab_resistance_ohm": 1e-4, "parallel_busbar_resistance_ohm": 5e-5,
                      "series_busbar_resistance_ohm": 1e-4},
        thermal={"layout": "grid", "columns": 4, "neighbour_conductance_W_per_K": 0.5,
                 "cold_plate_conductance_W_per_K": 2.0},
        bleed_resistance_ohm=30.0,
        variation={"capacity_scale": {"kind": "normal", "spread": 0.02, "seed": 1},
                   "r0_scale": {"kind": "normal", "spread": 0.05, "seed": 2}}).realise()
    cell_record = cell.provenance or {}
    return attach(params, {"origin": {
        "kind": "assembled by fmutwin", "converter": f"{__name__}.module_example",
        "cell": {"name": cell.name, "content_sha256": content_sha256(cell),
                 "record_sha256": cell_record.get("record_sha256")},
        "variation": params.variation.model_dump(exclude_none=True)}})
