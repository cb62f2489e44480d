"""The thin FMU slave sources, one per exportable twin, installed as ``fmutwin.fmu_sources``.

Not imported as a package at run time: the builder copies a twin's source (and
``_fmutwin_guard.py``) into each FMU's resources, where the FMI run time imports it by name.
"""
