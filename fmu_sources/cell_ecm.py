"""FMU slave source of the cell ECM twin, for FMI 2.0 and FMI 3.0 (built by build_fmus.py).

Thin on purpose: variables, parameters and equations all come from fmutwin. The class name is
the FMU's model identifier. pythonfmu3 (builder and run time) finds the slave class by matching
``class <Name>(...Fmi3Slave...):`` at the start of a line of this file, hence the base's name;
in an FMI 2.0 build the same name holds the pythonfmu (Fmi2Slave) base.
"""

import sys
from pathlib import Path

# An earlier FMU in this process may have left fmutwin imported from its own, since deleted,
# resources folder: forget it so that this FMU's copy is imported.
if "fmutwin" in sys.modules and not Path(sys.modules["fmutwin"].__file__ or "").exists():
    for _name in [n for n in sys.modules if n == "fmutwin" or n.startswith("fmutwin.")]:
        del sys.modules[_name]

from fmutwin.fmi.python_slave import fmi_version, twin_slave_base  # noqa: E402

Fmi3Slave = twin_slave_base("cell_ecm", fmi_version(__file__))


class CellECM(Fmi3Slave):
    """Cell equivalent-circuit twin."""
