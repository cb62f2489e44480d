"""Imported first by every slave source in fmu_sources/ (copied into each FMU's resources/).

An earlier FMU in the same process may have imported fmutwin from its own resources folder,
which the importer has deleted since: forget that copy so that this FMU's is imported.
"""

import sys
from pathlib import Path


def forget_stale_fmutwin() -> None:
    """Drop fmutwin from the import cache if the files it was imported from are gone."""
    module = sys.modules.get("fmutwin")
    if module is not None and not Path(module.__file__ or "").exists():
        for name in [n for n in sys.modules if n == "fmutwin" or n.startswith("fmutwin.")]:
            del sys.modules[name]
