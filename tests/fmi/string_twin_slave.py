"""Thin FMU slave source of the test twin in string_twin.py (shipped beside it in the FMU)."""

from _fmutwin_guard import forget_stale_fmutwin

forget_stale_fmutwin()

from fmutwin.fmi.python_slave import fmi_version, twin_slave_base  # noqa: E402 (after the guard)
from string_twin import EXPORT  # noqa: E402

Fmi3Slave = twin_slave_base(EXPORT, fmi_version(__file__))


class StringTwin(Fmi3Slave):
    """Series string of leaky capacitor cells (a test twin)."""
