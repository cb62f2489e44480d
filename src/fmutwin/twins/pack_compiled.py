"""A pack's modules as compiled code, for ``PackTwin(backend="compiled")``.

The same equations as the numpy pack (``equations.module`` over ops), made two CasADi functions
of one module in the native FMU's MX form (``symbolic.symbolic_step``), generated as C, compiled
once per content (``fmutwin.jit``, cached on disk) and called for every module through ctypes
(``jit.DirectCall``):

- electrical: the module's step up to its thermal network (``module.electrical_step``), with the
  heat to its plate and to the enclosure as affine functions of their temperatures and the cells'
  temperature responses (``module.thermal_response``), and every intermediate the step's end
  needs, as one vector;
- finish: the end of the step (``module.finish_step``) from that vector at the plate and
  enclosure temperatures the pack solved.

Every module has its own parameter vector: its cells' variation and its share of the string's
series busbars. The pack's coupling (plates, enclosure) stays in numpy, as in the numpy pack, so
the two backends solve the same system; they agree to the split's tolerance (a module stops
iterating once its own elements converge, the numpy string once all do).

An element with no closed cell opens the whole string, which one module's code cannot see: cells
with the current-interruption fault need the numpy backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fmutwin.equations import module
from fmutwin.jit import DirectCall, compiled_library
from fmutwin.ops import NUMPY
from fmutwin.ops import _leaves as ops_leaves
from fmutwin.ops import _rebuilt as ops_rebuilt
from fmutwin.params.pack import PackParameters
from fmutwin.symbolic import _split as split_name
from fmutwin.symbolic import symbolic_step
from fmutwin.twins.module import module_equation_parameters

#: the thermal-response outputs, per flow: value at 0 K, d/d plate, d/d ambient
RESPONSE = tuple(f"{flow}_{part}" for flow in ("heat_to_cold_plate", "heat_to_ambient")
                 for part in ("W", "per_plate_W_per_K", "per_ambient_W_per_K"))


def _slices(names: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """(start, size) of each output in a flat output vector whose arrays are ``base[0]``,
    ``base[1]``, ... in order."""
    out: dict[str, tuple[int, int]] = {}
    for k, name in enumerate(names):
        base, _ = split_name(name)
        start, size = out.get(base, (k, 0))
        out[base] = (start, size + 1)
    return out


def _carried(ops: Any, w: dict[str, Any]) -> list[Any]:
    """The symbolic leaves of an electrical step's intermediates (constants are recomputed)."""
    import casadi as ca

    return [leaf for leaf in ops_leaves(w) if isinstance(leaf, ca.MX)]


def _electrical(ops: Any, s: module.ModuleStructure, p: dict[str, Any], x: dict[str, Any],
                u: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The electrical step as a step function (state unchanged): the thermal response and, as
    ``w``, every intermediate (its leaves' entries in one column) and ``t_response``."""
    import casadi as ca

    w = module.electrical_step(ops, s, p, x, u)
    y, response = module.thermal_response(ops, w)
    y["t_response"] = ca.vertcat(*response)
    y["w"] = ca.vertcat(*[ca.vec(leaf) for leaf in _carried(ops, w)])
    return x, y


def _finish(ops: Any, s: module.ModuleStructure, p: dict[str, Any], x: dict[str, Any],
            u: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The end of the step as a step function: the electrical step's intermediates are the inputs
    ``w`` and ``t_response`` (the symbols CasADi then drops from the graph are recomputed ones)."""
    import casadi as ca

    w = module.electrical_step(ops, s, p, x, u)
    offset, carried = 0, []
    for leaf in _carried(ops, w):
        size = ca.vec(leaf).size1()
        carried.append(ca.reshape(u["w"][offset:offset + size], leaf.size1(), leaf.size2()))
        offset += size
    values = iter(carried)
    w = ops_rebuilt(w, iter([next(values) if isinstance(leaf, ca.MX) else leaf for leaf in ops_leaves(w)]))
    n, t = s.n_cells, u["t_response"]
    t_new = t[0:n] + t[n:2 * n] * u["cold_plate_temperature_K"] + t[2 * n:3 * n] * u["ambient_temperature_K"]
    return module.finish_step(ops, s, p, x, u, w, t_new)


class CompiledModules:
    """The modules of a pack as compiled functions mapped over the modules."""

    def __init__(self, params: PackParameters, string_p: dict[str, Any], series_shares: tuple[float, ...]) -> None:
        structure, p = module_equation_parameters(params.module)
        if structure.cell.current_interruption:
            raise ValueError("backend 'compiled': cells with the current-interruption fault open the whole string "
                             "when an element opens, which one module's code cannot see; use backend 'numpy'")
        self.n_modules, self.n = params.n_modules, structure.n_cells
        self.ns = structure.n_series
        self.r_sb = float(p["series_busbar_resistance_ohm"])
        modules = []
        for m in range(self.n_modules):
            cells = slice(m * self.n, (m + 1) * self.n)
            modules.append({**p, **{k: np.asarray(string_p[k])[cells] for k in module.VARYING},
                            "series_shares": np.asarray(series_shares[cells])})
        states = ["time_s"] + [f"{k}[{c}]" for k in structure.cell_state_names() for c in range(self.n)]
        self.cell_state_names = structure.cell_state_names()
        inputs = structure.input_names()
        x0 = module.initial_state(NUMPY, structure, modules[0])
        u0 = {"current_A": 0.0, "cold_plate_temperature_K": 298.15, "ambient_temperature_K": 298.15,
              "bleed": np.zeros(self.ns), "dt_s": 1.0}
        self.array_outputs = {k for k, v in module.step(NUMPY, structure, modules[0], x0, u0)[1].items()
                              if np.ndim(v) > 0}  # cell and element arrays (of any size, also 1)
        self.electrical_fn = symbolic_step(_electrical, structure, modules[0], states, inputs, "pack_electrical", "MX")
        carried = [f"w[{k}]" for k in range(sum(name.startswith("w[") for name in self.electrical_fn.output_names))]
        responses = [f"t_response[{k}]" for k in range(3 * self.n)]
        self.finish_fn = symbolic_step(_finish, structure, modules[0], states, (*inputs, *responses, *carried),
                                       "pack_finish", "MX")
        self.output_slices = _slices(self.finish_fn.output_names)
        library = compiled_library("pack_module", [f for sym in (self.electrical_fn, self.finish_fn)
                                                   for f in (sym.function, sym.derive)])
        m = self.n_modules
        self.electrical_call = DirectCall(library, self.electrical_fn.function, m)
        self.finish_call = DirectCall(library, self.finish_fn.function, m)
        for call, sym in ((self.electrical_call, self.electrical_fn), (self.finish_call, self.finish_fn)):
            derive = DirectCall(library, sym.derive, m)
            for k, pm in enumerate(modules):
                derive.inputs[0][k] = sym.layout.pack(pm)
            derive()
            call.inputs[2][:] = derive.inputs[0]  # (x, u, p, d): p and d are the modules' own, fixed
            call.inputs[3][:] = derive.outputs[0]
        names = self.electrical_fn.output_names
        self._response_rows = [names.index(name) for name in RESPONSE]
        self._carried_rows = slice(names.index("t_response[0]"), len(names))  # t_response, then w
        self._carried_inputs = slice(3 + self.ns + 1, None)

    def _set_inputs(self, call: DirectCall, state: dict[str, Any], u: dict[str, Any]) -> None:
        """The modules' state and input rows (x, u) from the string's state and the step's inputs
        (the plate and ambient temperatures, which the electrical step does not read, at 0)."""
        m, x, us = self.n_modules, call.inputs[0], call.inputs[1]
        x[:, 0] = float(state["time_s"])
        for k, name in enumerate(self.cell_state_names):
            x[:, 1 + k * self.n:1 + (k + 1) * self.n] = np.reshape(state[name], (m, self.n))
        us[:, 0] = float(u["current_A"])
        us[:, 1:3] = 0.0
        us[:, 3:3 + self.ns] = np.reshape(u["bleed"], (m, self.ns))
        us[:, 3 + self.ns] = float(u["dt_s"])

    def thermal_response(self, state: dict[str, Any], u: dict[str, Any]) -> dict[str, np.ndarray]:
        """The electrical step of every module: per module, the heat to its plate and to the
        enclosure as affine functions of their temperatures (:data:`RESPONSE`, arrays over the
        modules); what :meth:`finish` needs is kept."""
        self._set_inputs(self.electrical_call, state, u)
        self.electrical_call()
        y = self.electrical_call.outputs[1]
        return {name: y[:, row].copy() for name, row in zip(RESPONSE, self._response_rows)}

    def finish(self, state: dict[str, Any], u: dict[str, Any], plates: np.ndarray,
               enclosure: float) -> tuple[dict[str, Any], dict[str, Any]]:
        """The end of the step after :meth:`thermal_response`, at each module's plate temperature
        and the enclosure's: the string's new cell state and outputs (as ``module.finish_step``
        gives them for the whole string)."""
        x, us = self.finish_call.inputs[0], self.finish_call.inputs[1]
        x[:] = self.electrical_call.inputs[0]  # the same state and step inputs, set once
        us[:, :self._carried_inputs.start] = self.electrical_call.inputs[1]
        us[:, 1], us[:, 2] = plates, enclosure
        us[:, self._carried_inputs] = self.electrical_call.outputs[1][:, self._carried_rows]
        self.finish_call()
        x_next, y = self.finish_call.outputs
        n = self.n
        xn: dict[str, Any] = {"time_s": np.array(x_next[0, 0])}
        for k, name in enumerate(self.cell_state_names):
            xn[name] = x_next[:, 1 + k * n:1 + (k + 1) * n].ravel()
        return xn, self._string_outputs(y, float(u["current_A"]))

    def _string_outputs(self, y: np.ndarray, current: float) -> dict[str, Any]:
        """The modules' outputs (rows: modules, columns: output entries) as the whole string's."""
        out: dict[str, Any] = {}
        for name, (start, size) in self.output_slices.items():
            v = y[:, start:start + size]
            if name in self.array_outputs:  # an array per module: the string's, module by module
                out[name] = v.ravel()
            elif name in ("module_voltage_V", "module_mean_voltage_V"):  # plus the busbars between modules
                out[name] = float(np.sum(v)) - (self.n_modules - 1) * self.r_sb * current
            elif name == "module_current_A":
                out[name] = float(v[0, 0])
            elif name.startswith("min_"):
                out[name] = float(np.min(v))
            elif name.startswith("max_") or name == "split_residual_V":
                out[name] = float(np.max(v))
            elif "_spread" in name:
                continue  # from the string's min and max below
            elif name.endswith("_W"):
                out[name] = float(np.sum(v))
            else:
                raise KeyError(f"no rule for the module output {name!r} in a pack")
        for quantity, unit in (("voltage", "_V"), ("soc", ""), ("temperature", "_K")):
            out[f"cell_{quantity}_spread{unit}"] = out[f"max_cell_{quantity}{unit}"] - out[f"min_cell_{quantity}{unit}"]
        return out
