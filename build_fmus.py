"""Build every fmutwin FMU (Python FMI 2.0 and 3.0, native FMI 2.0) into out/fmus and check each one.

Usage: python build_fmus.py [--out out/fmus]   (same as ``fmutwin build``)
"""

from fmutwin.cli import build

if __name__ == "__main__":
    build()
