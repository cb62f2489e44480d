"""fmutwin: battery digital twins as FMI co-simulation components.

Data flows one way: equations (over :mod:`fmutwin.ops`) -> twins -> variable declaration ->
FMI export -> co-simulation master. Sign convention everywhere: positive current discharges
the cell.
"""

__version__ = "0.1.0"
