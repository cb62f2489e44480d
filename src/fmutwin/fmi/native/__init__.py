"""Native FMUs: a twin's CasADi step generated as C, wrapped by one C shell for all twins.

No Python at run time. ``codegen`` writes the model-specific C (the generated step function and
a table of the declared variables); ``shell_core.c`` holds the FMI logic written once;
``shell_fmi2.c`` binds it to the FMI 2.0 API; ``build`` compiles and packages the FMU.
"""
