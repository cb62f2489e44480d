"""Build every fmutwin FMU into out/fmus and check each one: for every registered twin the Python
FMUs (FMI 2.0 and 3.0), and for twins with a native export the native FMUs (generated C, FMI 2.0
and 3.0; needs gcc).

Usage: python build_fmus.py [--out out/fmus] [--twin NAME] [--fmi 2|3] [--no-native]
(the same command as ``fmutwin build``; ``--help`` lists every option)
"""

from fmutwin.cli import build

if __name__ == "__main__":
    build()
