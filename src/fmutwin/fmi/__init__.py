"""FMI export: one declaration of a twin's variables -> FMI 2.0 and FMI 3.0 FMUs.

Knows FMI, not batteries: it reads :class:`fmutwin.interface.Variable` declarations and drives a
:class:`fmutwin.interface.SteppableModel`. One module per FMI version (``fmi2``, ``fmi3``) holds
only what differs between the versions; everything else is written once (``slave``,
``model_description``, ``units``).
"""
