"""Native FMUs: a twin's CasADi step generated as C, wrapped by one C shell for all twins.

No Python at run time. ``build`` writes the model-specific C (the generated step, output function
and state Jacobian, and tables of the declared variables) and compiles it with ``shell_core.c``
(the FMI logic written once) and ``shell_fmi2.c`` / ``shell_fmi3.c`` (the two APIs).
"""
