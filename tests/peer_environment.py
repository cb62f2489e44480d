"""The liionpack peer's virtual environment, shared by the tests and benchmarks that compare with it.

liionpack 0.4.0 does not run with fmutwin's PyBaMM (26.10: AttributeError ``len_rhs_sens``); it
runs with pybamm 24.11.0, casadi 3.6.7 and pandas < 3 (pip's defaults, casadi 3.8 and pandas 3,
fail: the first to deserialise PyBaMM 24.11's functions, the second in ``lp.power_loss``). So it
lives in its own environment, made on first use with ``python -m venv`` and pip in
``FMUTWIN_PEER_VENV`` (default ``~/.cache/fmutwin/liionpack-0.4.0-venv``) and reused after; its
scripts are run there as separate processes that exchange JSON files with ours.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PEER_REQUIREMENTS = ["liionpack==0.4.0", "pybamm==24.11.0", "casadi==3.6.7", "pandas<3"]
PEER_VENV = Path(os.environ.get("FMUTWIN_PEER_VENV", Path.home() / ".cache" / "fmutwin" / "liionpack-0.4.0-venv"))


def peer_python() -> tuple[Path | None, str]:
    """The peer environment's interpreter, made if missing; (None, why) when it cannot be."""
    python = PEER_VENV / "bin" / "python"
    if python.exists():
        return python, f"reused {PEER_VENV}"
    try:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True, capture_output=True, text=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS], check=True,
                       capture_output=True, text=True, timeout=1800)
        return python, f"made {PEER_VENV} in {time.perf_counter() - t0:.0f} s"
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return None, f"the peer environment could not be made ({type(exc).__name__}: {detail.strip()[-300:]})"


def peer_environment() -> dict[str, str]:
    """The environment to run a peer script in: ours without PYTHONPATH (the peer has its own PyBaMM)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
