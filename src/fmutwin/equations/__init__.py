"""Pure model equations over :mod:`fmutwin.ops`: no I/O, no classes holding state, no FMI.

One module per physical part; :mod:`fmutwin.equations.cell` composes them into the cell step.
Every function takes the backend ``ops`` first and uses nothing else for arithmetic on states,
so the same text runs vectorised on numpy and symbolically on CasADi.
"""
