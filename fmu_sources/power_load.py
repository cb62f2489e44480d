"""FMU slave source of the power load (a pack power demand to a current), for FMI 2.0 and FMI 3.0 (built by build_fmus.py).

Thin on purpose: variables, parameters and equations all come from fmutwin. The class name is
the FMU's model identifier. pythonfmu3 (builder and run time) finds the slave class by matching
``class <Name>(...Fmi3Slave...):`` at the start of a line of this file, hence the base's name;
in an FMI 2.0 build the same name holds the pythonfmu (Fmi2Slave) base.
"""

from _fmutwin_guard import forget_stale_fmutwin

forget_stale_fmutwin()

from fmutwin.fmi.python_slave import fmi_version, twin_slave_base  # noqa: E402 (after the guard)
from fmutwin.registry import twin  # noqa: E402

Fmi3Slave = twin_slave_base(twin("power_load"), fmi_version(__file__))


class PowerLoad(Fmi3Slave):
    """Power load: a pack power demand to a current, within the BMS limits."""
