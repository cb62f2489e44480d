"""CasADi functions as C compiled by gcc, once per content: the generated source's hash names a
shared library in a cache folder (``$FMUTWIN_CACHE``, default ``~/.cache/fmutwin``, under
``jit/``), so a second process (or run) loads it without compiling. Used where a twin runs
equations that would take numpy many small operations a step (the compiled pack)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

FLAGS = ("-O2", "-shared", "-fPIC")


def cache_folder() -> Path:
    """Where compiled libraries are kept."""
    return Path(os.environ.get("FMUTWIN_CACHE", Path.home() / ".cache" / "fmutwin")) / "jit"


def compiled_library(name: str, functions: list[Any]) -> Path:
    """``functions`` (CasADi Functions) generated as one C file and compiled to a shared library
    (or found compiled in the cache): its path. Raises RuntimeError with gcc's message if gcc
    fails."""
    import casadi as ca

    generator = ca.CodeGenerator(f"{name}.c", {"with_header": False})
    for function in functions:
        generator.add(function)
    source = generator.dump()
    key = hashlib.sha256((source + " ".join(FLAGS) + ca.__version__).encode()).hexdigest()[:20]
    library = cache_folder() / f"{name}-{key}.so"
    if not library.exists():
        library.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="fmutwin_jit_", dir=library.parent) as folder:
            c_file, built = Path(folder) / f"{name}.c", Path(folder) / library.name
            c_file.write_text(source)
            proc = subprocess.run(["gcc", *FLAGS, "-o", str(built), str(c_file), "-lm"], capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"gcc failed on the generated {name}.c:\n{proc.stderr[-2000:]}")
            os.replace(built, library)  # atomic: a concurrent process sees the whole library or none
    return library


class DirectCall:
    """A generated function of a compiled library called through ctypes on preallocated buffers,
    for ``columns`` argument sets (e.g. a pack's modules): ``inputs[i]`` and ``outputs[j]`` are
    (columns, size) arrays filled and read in place, :meth:`__call__` evaluates every column. A
    CasADi call of the same function converts and checks its arguments each time (in a pack step:
    3x the computation itself); a second thread for half the columns made a pack step slower
    (measured: its hand-over costs more than the 8 modules' computation it shares)."""

    def __init__(self, library: Path, function: Any, columns: int) -> None:
        lib = ctypes.CDLL(str(library))
        name = function.name()
        sizes = [ctypes.c_longlong() for _ in range(4)]  # casadi_int: arg, res, iw, w
        getattr(lib, f"{name}_work")(*[ctypes.byref(v) for v in sizes])
        n_arg, n_res, n_iw, n_w = (int(v.value) for v in sizes)
        self.inputs = [np.zeros((columns, function.nnz_in(i))) for i in range(function.n_in())]
        self.outputs = [np.zeros((columns, function.nnz_out(j))) for j in range(function.n_out())]
        self._iw, self._w = np.zeros(max(n_iw, 1), dtype=np.int64), np.zeros(max(n_w, 1))
        self._function = getattr(lib, name)
        self._function.restype = ctypes.c_int
        self._calls = []
        for c in range(columns):
            args = (ctypes.c_void_p * max(n_arg, 1))(*[a[c].ctypes.data for a in self.inputs])
            res = (ctypes.c_void_p * max(n_res, 1))(*[r[c].ctypes.data for r in self.outputs])
            self._calls.append((args, res))
        self._lib = lib  # kept loaded as long as the buffers' users

    def __call__(self) -> None:
        iw, w = self._iw.ctypes.data_as(ctypes.c_void_p), self._w.ctypes.data_as(ctypes.c_void_p)
        for args, res in self._calls:
            if self._function(args, res, iw, w, 0):
                raise RuntimeError("a compiled function failed")
