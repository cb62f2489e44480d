"""The shipped example BMS (``data/bms_example.json``): the BMS of the shipped module (12 series
elements of 4 parallel cells of the shipped cell file), default settings, with a provenance record
naming the cell file it runs (content and record hashes), made by :func:`bms_example` (a test
re-makes it and compares)."""

from __future__ import annotations

from fmutwin.params.bms import BmsParameters
from fmutwin.params.cell import CellParameters


def bms_example(cell: CellParameters) -> BmsParameters:
    """The BMS of 12 series elements of 4 parallel ``cell`` cells, every setting at its default."""
    from fmutwin.provenance import attach, file_reference

    params = BmsParameters(
        name="bms_example_12s4p",
        source=(f"fmutwin example: the BMS of the shipped 12s4p module of the cell set {cell.name!r}; every "
                "setting at its default (EKF, 10 mV / 50 mA sensor noise, limits 2.5-4.2 V over 10 s at 3C / 1C, "
                "CC-CV 1C to 4.1 V, balancing above 2 % SoC spread)"),
        cell=cell, n_series=12, n_parallel=4)
    return attach(params, {"origin": {
        "kind": "assembled by fmutwin", "converter": f"{__name__}.bms_example",
        "cell": file_reference(cell)}})
