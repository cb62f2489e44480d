"""The execution: a resolved system's FMU instances, run from start to stop with an algorithm,
observers and manipulators (libcosim's split), and the failure rule: when a component fails or
the coupling does not converge, the run stops with a :class:`CosimError` naming the component,
time and message, the observers are closed (a file writer's rows are on disk) and every FMU
instance is freed, whatever happened.
"""

from __future__ import annotations

import shutil
import sys
import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fmutwin.cosim.algorithms import CouplingError, largest_change, make_algorithm
from fmutwin.cosim.component import Component, ComponentError
from fmutwin.cosim.manipulators import Manipulator
from fmutwin.cosim.observers import Observer, Recorder
from fmutwin.cosim.system import Resolved, System, SystemError, resolve, split_endpoint


class CosimError(RuntimeError):
    """A run that stopped part-way: ``component``, ``time_s``, the cause's message, and
    ``partial``, the in-memory recorder's results up to the last completed step (the file
    writers' files hold the same rows)."""

    def __init__(self, message: str, component: str | None, time_s: float, partial: dict[str, np.ndarray]) -> None:
        super().__init__(message)
        self.component, self.time_s, self.partial = component, time_s, partial


@dataclass
class RunStats:
    """Wall time of the run (``wall_s``) and of its stepping loop (``loop_s``: after instantiation
    and initialisation, observers included), the time inside the FMUs' step, set and get calls
    during the loop, the steps and component steps taken, and the master's own time per
    component step (loop time not inside an FMU call)."""

    wall_s: float = 0.0
    loop_s: float = 0.0
    fmu_s: float = 0.0
    steps: int = 0
    component_steps: int = 0
    iterations: list[int] = field(default_factory=list)
    init_sweeps: int = 0

    @property
    def overhead_per_component_step_s(self) -> float:
        return (self.loop_s - self.fmu_s) / max(self.component_steps, 1)


class Execution:
    """Run ``system`` (a :class:`System` or a resolved one). ``algorithm``: a name or an algorithm
    object (default: the system's); ``observers`` and ``manipulators`` as in their modules;
    ``progress``: a tqdm progress bar (None: only on a terminal); ``extracted``: a cache of the
    FMUs' extracted folders the caller keeps across runs (default: extracted and removed per run)."""

    def __init__(self, system: System | Resolved, algorithm: Any = None, observers: Sequence[Observer] = (),
                 manipulators: Sequence[Manipulator] = (), base: Path | None = None,
                 progress: bool | None = None, extracted: dict[Path, str] | None = None) -> None:
        self._base = Path(base) if base is not None else Path.cwd()
        self.resolved = system if isinstance(system, Resolved) else resolve(system, self._base)
        self._located: dict[str, tuple[Component, np.ndarray, np.ndarray, list[str]]] = {}
        self.system = self.resolved.system
        self.order = self.resolved.order
        self.algorithm = make_algorithm(algorithm or self.system.algorithm) if isinstance(algorithm, str) or \
            algorithm is None else algorithm
        self.recorder = Recorder()
        self.observers = [self.recorder, *observers]
        self.manipulators = list(manipulators)
        self.multiple = {c.name: c.step_multiple for c in self.system.components}
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.stats = RunStats()
        self.components: dict[str, Component] = {}
        self._unzipped: list[str] = []  # the FMUs' extracted folders, removed after the run
        #: FMU -> extracted folder kept across runs (a sweep's worker extracts each FMU once)
        self._extracted = extracted

    # -- operations the algorithms use ---------------------------------------------------------
    def feed(self, name: str, t: float) -> np.ndarray:
        """Connections, then forced values, into component ``name``'s input vector (returned)."""
        inputs = self.components[name].inputs.values
        for source, src_idx, dst_idx, gain, offset in self._feeds[name]:
            if gain is None:
                inputs[dst_idx] = source[src_idx]
            else:
                inputs[dst_idx] = source[src_idx] * gain + offset
        for idx, values in self._forced.get(name, ()):
            inputs[idx] = values
        return inputs

    def advance(self, name: str, t: float, h: float, rollback: bool = False, read: bool = True) -> None:
        comp = self.components[name]
        comp.write_inputs()
        comp.do_step(t, h, rollback)
        if read:
            comp.read_outputs()
        self.stats.component_steps += 1

    def step_length(self, name: str, t: float, h: float) -> float:
        """Component ``name``'s step from ``t``: its multiple of the macro step ``h``, not past the stop."""
        return min(h * self.multiple[name], self._stop_s - t)

    def read(self, name: str) -> None:
        self.components[name].read_outputs()

    def save(self, name: str) -> None:
        self.components[name].save_state()

    def restore(self, name: str, t: float) -> None:
        self.components[name].restore_state(t)

    def input_name(self, name: str, index: int) -> str:
        return self.components[name].inputs.signals[index].name

    # -- what observers and manipulators resolve ---------------------------------------------
    def _locate(self, endpoint: str) -> tuple[Component, np.ndarray, np.ndarray, list[str]]:
        """(component, the vector holding the signals, their indices, their names)."""
        if endpoint in self._located:
            return self._located[endpoint]
        self._located[endpoint] = found = self._find(endpoint)
        return found

    def _find(self, endpoint: str) -> tuple[Component, np.ndarray, np.ndarray, list[str]]:
        comp_decl, var = split_endpoint(endpoint, self.system)
        comp = self.components[comp_decl.name]
        signals = self.resolved.interfaces[comp.name].expand(var, endpoint)
        for port in (comp.outputs, comp.inputs):
            if all(s.name in port.index for s in signals):
                return comp, port.values, np.array([port.index[s.name] for s in signals]), [s.name for s in signals]
        raise SystemError(f"{endpoint}: only inputs and outputs can be observed or manipulated")

    def select(self, variables: Sequence[str] | None) -> tuple[list[str], list[tuple[np.ndarray, Any]]]:
        """Columns and (vector, indices or None for all of it) picks for an observer; None: every output."""
        if variables is None:  # one pick per component, not per signal
            cols, picks = [], []
            for c in self.order:
                comp = self.components[c]
                cols += [f"{c}.{s.name}" for s in comp.outputs.signals]
                picks.append((comp.outputs.values, None))
            return cols, picks
        cols, picks = [], []
        for v in variables:
            comp, vec, idx, names = self._locate(v)
            cols += [f"{comp.name}.{n}" for n in names]
            picks.append((vec, idx))
        return cols, picks

    def probe(self, endpoint: str) -> Any:
        """A function giving the current value of one signal (for conditions)."""
        comp, vec, idx, names = self._locate(endpoint)
        if len(idx) != 1:
            raise SystemError(f"{endpoint}: a condition needs one signal, this names {len(idx)}")
        i = int(idx[0])
        return lambda: float(vec[i])

    def set_parameters(self, values: dict[str, Any]) -> None:
        """Set parameters (or inputs' values) by endpoint during the run (an event's tunable change)."""
        for endpoint, value in values.items():
            comp_decl, var = split_endpoint(endpoint, self.system)
            self.components[comp_decl.name]._set_parameters({var: value})

    # -- the run -------------------------------------------------------------------------------
    def run(self, stop_s: float | None = None, step_s: float | None = None) -> dict[str, np.ndarray]:
        """Run to ``stop_s`` with macro step ``step_s`` (defaults: the system's); the recorder's
        results. On failure a :class:`CosimError` (with ``partial``)."""
        stop_s = self.system.stop_s if stop_s is None else stop_s
        step_s = self.system.step_s if step_s is None else step_s
        if stop_s is None or step_s is None or not step_s > 0 or not stop_s > self.system.start_s:
            raise ValueError(f"run: stop time {stop_s} after the start {self.system.start_s} and a step > 0 "
                             f"({step_s}) are needed")
        n_steps = int(round((stop_s - self.system.start_s) / step_s))
        if abs(self.system.start_s + n_steps * step_s - stop_s) > 1e-9 * max(1.0, abs(stop_s)):
            raise ValueError(f"run: the stop time {stop_s:g} s is not a whole number of {step_s:g} s steps from the "
                             f"start {self.system.start_s:g} s")
        self._stop_s = stop_s
        start_wall = _time.perf_counter()
        t = self.system.start_s
        try:
            self._instantiate()
            self.algorithm.check(self)
            for obs in self.observers:
                obs.bind(self)
            for m in self.manipulators:
                m.bind(self)
            self._initialize(t, stop_s)
            for obs in self.observers:
                obs.observe(t)
            bar = _progress(n_steps, self.system.name) if self.progress else None
            loop_start, fmu_start = _time.perf_counter(), sum(c.fmi_s for c in self.components.values())
            for n in range(n_steps):
                t = self.system.start_s + n * step_s
                self._force(t)
                self.algorithm.step(self, n, t, step_s)
                t = self.system.start_s + (n + 1) * step_s
                self.stats.steps += 1
                for obs in self.observers:
                    obs.observe(t)
                if bar is not None:
                    bar.update(1)
            self.stats.loop_s = _time.perf_counter() - loop_start
            self.stats.fmu_s = sum(c.fmi_s for c in self.components.values()) - fmu_start
            if bar is not None:
                bar.close()
        except ComponentError as exc:
            raise CosimError(str(exc), exc.component, exc.time_s, self.recorder.result()) from None
        except (CouplingError, ValueError, SystemError) as exc:
            raise CosimError(f"at t = {t:g} s: {exc}", None, t, self.recorder.result()) from None
        except Exception as exc:  # noqa: BLE001 - whatever fails, the results so far are kept and named
            raise CosimError(f"at t = {t:g} s: {type(exc).__name__}: {exc}", None, t, self.recorder.result()) from exc
        finally:
            for obs in self.observers:
                try:
                    obs.close()
                except Exception:  # noqa: BLE001 - every observer is closed even if one fails
                    pass
            self._free()
            self.stats.wall_s = _time.perf_counter() - start_wall
            self.stats.iterations = list(getattr(self.algorithm, "iterations", []))
        return self.recorder.result()

    def initial_inputs(self) -> dict[tuple[str, str], float]:
        """Instantiate and initialise the FMUs as :meth:`run` does (the manipulators' values at
        the start included), then free them: the value every connected input starts with, by
        (component, signal)."""
        stop_s = self.system.stop_s if self.system.stop_s is not None else self.system.start_s + 1.0
        try:
            self._instantiate()
            self._initialize(self.system.start_s, stop_s)
            return {(name, sig.name): float(value) for name, comp in self.components.items()
                    for sig, value in zip(comp.inputs.signals, comp.inputs.values)
                    if sig.name in self.resolved.linked_inputs[name]}
        except ComponentError as exc:
            raise CosimError(str(exc), exc.component, exc.time_s, {}) from None
        except (ValueError, SystemError) as exc:
            raise CosimError(f"initialisation: {exc}", None, self.system.start_s, {}) from None
        finally:
            self._free()
            self.components.clear()  # freed: a later run makes its own
            self._located.clear()

    def _free(self) -> None:
        """Free every FMU instance made and remove the folders extracted for this run only."""
        for comp in self.components.values():
            comp.free()
        for folder in self._unzipped:
            shutil.rmtree(folder, ignore_errors=True)
        self._unzipped.clear()

    def _instantiate(self) -> None:
        import fmpy

        unzipped: dict[Any, str] = {} if self._extracted is None else self._extracted
        for decl in self.system.components:
            path = self._fmu_path(decl.fmu).resolve()
            stat = path.stat()
            key = (path, stat.st_mtime_ns, stat.st_size)  # a rebuilt FMU is extracted again
            if key not in unzipped:
                unzipped[key] = fmpy.extract(str(path))
                if self._extracted is None:
                    self._unzipped.append(unzipped[key])
            self.components[decl.name] = Component(decl.name, unzipped[key], self.resolved.interfaces[decl.name])
        self._feeds: dict[str, list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = \
            {c: [] for c in self.components}
        grouped: dict[tuple[str, str], list[Any]] = {}
        for link in self.resolved.links:
            grouped.setdefault((link.target, link.source), []).append(link)
        for (target, source), links in grouped.items():
            dst = self.components[target].inputs.index
            src = self.components[source].outputs.index
            gain, offset = np.array([lk.gain for lk in links]), np.array([lk.offset for lk in links])
            plain = bool(np.all(gain == 1.0) and np.all(offset == 0.0))
            self._feeds[target].append((self.components[source].outputs.values,
                                        np.array([src[lk.source_signal.name] for lk in links]),
                                        np.array([dst[lk.target_signal.name] for lk in links]),
                                        None if plain else gain, None if plain else offset))
        self._forced: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._source_name = {id(comp.outputs.values): name for name, comp in self.components.items()}

    def _fmu_path(self, fmu: Path) -> Path:
        return fmu if fmu.is_absolute() else self._base / fmu

    def _initialize(self, t: float, stop_s: float) -> None:
        """Initialisation, as the system's ``initialization`` says:

        - ``iterated`` (default, as libcosim and ecos do): every FMU enters initialisation mode
          with its parameter values, then Jacobi sweeps set every input from the outputs read in
          initialisation mode until no connected input changes by more than 1e-12 * (1 + |value|),
          then every FMU leaves it: the start is consistent (a load sees the voltages the modules
          start with, the modules the current it draws). A loop that does not settle in 100
          sweeps is an error naming the input.
        - ``sequential``: the FMUs one after the other in the algorithm's order, each from the
          outputs of those already initialised (read after they left initialisation mode, for
          FMUs whose outputs are not valid in it); a connection from an FMU later in the order
          carries its value from the first step.
        - ``start``: every FMU from its parameter and start values alone; connections act from
          the first step (what fmpy's container FMU does by itself).
        Manipulators' values at the start apply in all three."""
        self._force(t)
        if self.system.initialization in ("sequential", "start"):
            done: set[str] = set()
            for c in self.order:
                comp = self.components[c]
                comp.initialize(t, stop_s, self.system.component(c).parameters)
                inputs = comp.inputs.values
                for source, src_idx, dst_idx, gain, offset in self._feeds[c]:
                    if self._source_name[id(source)] in done and self.system.initialization == "sequential":
                        inputs[dst_idx] = source[src_idx] if gain is None else source[src_idx] * gain + offset
                for idx, values in self._forced.get(c, ()):
                    inputs[idx] = values
                comp.exit_initialization()
                done.add(c)
            return
        for c in self.order:
            self.components[c].initialize(t, stop_s, self.system.component(c).parameters)
        for c in self.order:
            comp = self.components[c]
            for idx, values in self._forced.get(c, ()):
                comp.inputs.values[idx] = values
            comp.write_inputs()
            comp.read_outputs()
        for sweep in range(1, INIT_SWEEPS + 1):
            worst, where = 0.0, ""
            for c in self.order:
                before = self.components[c].inputs.values.copy()
                now = self.feed(c, t)
                change, i = largest_change(now, before)
                if change == np.inf:
                    raise SystemError(f"initialisation: {c}.{self.input_name(c, i)} became {now[i]!r}")
                if change > worst:
                    worst, where = change, f"{c}.{self.input_name(c, i)}"
                self.components[c].write_inputs()
            for c in self.order:
                self.components[c].read_outputs()
            if worst <= INIT_TOLERANCE:
                break
        else:
            raise SystemError(f"initialisation did not settle in {INIT_SWEEPS} sweeps: {where} still changes by "
                              f"{worst:.3g} (relative to 1 + |value|); an algebraic loop at the start? (or use initialization "
                              "'sequential')")
        self.stats.init_sweeps = sweep
        for c in self.order:
            self.components[c].exit_initialization()

    def _force(self, t: float) -> None:
        """Collect every manipulator's values for this step into per-component forced inputs
        (applied in the manipulators' order: a later one wins)."""
        forced: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for m in self.manipulators:
            values = m.values(t)
            if not values:
                continue
            for endpoint, value in values.items():
                comp, vec, idx, names = self._locate(endpoint)
                if vec is not comp.inputs.values:
                    raise SystemError(f"{endpoint}: a manipulator sets inputs; this is an output")
                if isinstance(value, float):
                    vals: Any = value
                else:
                    vals = np.asarray(value, dtype=float)
                    if vals.size not in (1, idx.size):
                        raise SystemError(f"{endpoint}: {vals.size} values for {idx.size} elements")
                forced.setdefault(comp.name, []).append((idx, vals))
        self._forced = forced


#: the iterated initialisation's sweeps at most, and its tolerance on the relative change of an input
INIT_SWEEPS, INIT_TOLERANCE = 100, 1e-12


def _progress(total: int, name: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=name, unit="step", leave=False)
