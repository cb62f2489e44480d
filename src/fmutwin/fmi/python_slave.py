"""What an ``fmu_sources/<twin>.py`` file calls: the slave base class of a twin for one FMI version.

The same thin source builds the FMI 2.0 and the FMI 3.0 FMU. Which version a given copy is for
is recorded in ``fmutwin_fmi_version.txt`` beside it in the FMU's resources (written by
:mod:`fmutwin.fmi.build`); while building, the ``FMUTWIN_FMI_VERSION`` environment variable says it.
"""

from __future__ import annotations

import os
from pathlib import Path

from fmutwin.interface import TwinExport

VERSION_FILE = "fmutwin_fmi_version.txt"
VERSION_ENV = "FMUTWIN_FMI_VERSION"


def fmi_version(source_file: str) -> int:
    """2 or 3: the FMI version this copy of a slave source is built or run as."""
    marker = Path(source_file).with_name(VERSION_FILE)
    text = marker.read_text().strip() if marker.is_file() else os.environ.get(VERSION_ENV, "")
    if text not in ("2", "3"):
        raise RuntimeError(f"FMI version unknown for {source_file}: no {VERSION_FILE} beside it and "
                           f"{VERSION_ENV} is {text!r} (expected 2 or 3)")
    return int(text)


def twin_slave_base(twin: TwinExport, version: int) -> type:
    """A slave class bound to ``twin`` for FMI ``version``."""
    if version == 2:
        from fmutwin.fmi.fmi2 import Fmi2TwinSlave as base
    else:
        from fmutwin.fmi.fmi3 import Fmi3TwinSlave as base  # type: ignore[assignment]
    return type(f"{twin.model_name}Base", (base,), {
        "model_factory": staticmethod(twin.model_factory), "model_description": twin.description})
