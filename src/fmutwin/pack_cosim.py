"""The pack co-simulation (the README's main job), assembled from fmutwin's FMUs and run by the
master (:mod:`fmutwin.cosim`), which knows none of this.

A composition root like :mod:`fmutwin.registry`: it knows which FMUs make a pack and how they
connect. :func:`build_pack_fmus` builds them from the flagship's files
(:mod:`fmutwin.params.flagship`): the native Module FMU (FMI 3.0) of the 12s4p module of the
reduced cell, the native PackThermal FMU (FMI 2.0), the native Bms FMU (FMI 3.0) of all 96
elements and the native PowerLoad FMU (FMI 2.0): FMI 2.0 and 3.0 in one system, none of it
needing Python at run time. :func:`pack_system` connects them:

    load.current            -> module{m}.current, bms.packCurrent   (modules in series)
    module{m}.moduleVoltage -> load.moduleVoltage[m]                (the load's pack voltage)
    bms.dischargeCurrentLimit, chargeCurrentLimit -> the load's     (the BMS clamps the current)
    module{m}.heatToColdPlate / heatToAmbient -> thermal.plateHeat[m] / enclosureHeat[m]
    thermal.plateTemperature[m], enclosureTemperature -> module{m}.coldPlateTemperature, ambient
    module{m}.elementVoltage -> bms.elementVoltage[12(m-1)+1 : 12m]
    module{m}.cellTemperature of the first cell of each element -> bms.elementTemperature
    bms.bleed[12(m-1)+1 : 12m] -> module{m}.bleed                   (balancing back to the modules)

Each module instance gets its share of the pack's realised cell variation as parameter values, so
the system file alone reproduces the run. Order: load, modules, thermal, BMS; the iterated
algorithm iterates modules and thermal (the strongly coupled loop) within each step.
Positive current discharges the pack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fmutwin.cosim import System

#: the module FMU parameters that carry a module's share of the pack's realised variation
VARIATION_PARAMETERS = {"capacity_scale": "capacityScale", "r0_scale": "r0Scale",
                        "rc_resistance_scale": "rcResistanceScale", "initial_soc": "initialSoc",
                        "initial_temperature_K": "initialTemperature", "initial_cycles": "initialCycles",
                        "internal_short_scale": "internalShortScale"}
#: the twin and FMI version of each component kind of the default pack: FMI 2.0 and 3.0 in one system
PACK_TWINS = {"module": ("module", 3), "thermal": ("pack_thermal", 2), "bms": ("bms", 3), "load": ("power_load", 2)}


def build_pack_fmus(out: Path, fmi_version: int | None = None) -> dict[str, Path]:
    """Build the pack's FMUs into ``out``, all native: the default FMI 2.0 / 3.0 mix, or every one
    in ``fmi_version``; the paths by component kind. An FMU already there is kept when its stamp
    (``<fmu>.stamp.json``) says it was built from this fmutwin code and parameter file."""
    import dataclasses
    import hashlib
    import json

    from fmutwin.atomic import atomic_write
    from fmutwin.fmi.native.build import build_native
    from fmutwin.params import flagship
    from fmutwin.registry import TWINS

    files = {"module": flagship.MODULE_FILE, "bms": flagship.BMS_FILE}
    out = Path(out)
    source = _source_digest()
    paths = {}
    for kind, (twin, version) in PACK_TWINS.items():
        export = TWINS[twin]
        if kind in files:
            export = dataclasses.replace(export, parameter_file=lambda f=files[kind]: flagship.data_file(f))
        parameters = export.parameter_file() if export.parameter_file else None
        stamp = {"fmutwin_source_sha256": source, "fmi_version": fmi_version or version,
                 "parameter_file_sha256": None if parameters is None else
                 hashlib.sha256(Path(parameters).read_bytes()).hexdigest()}
        path = out / f"{export.model_name}Native_fmi{fmi_version or version}.fmu"
        stamp_file = path.with_name(path.name + ".stamp.json")
        try:
            current = path.is_file() and json.loads(stamp_file.read_text()) == stamp
        except (OSError, ValueError):  # no stamp, or an unreadable one: stale
            current = False
        if current:
            paths[kind] = path  # built from these sources and this parameter file
            continue
        stamp_file.unlink(missing_ok=True)
        paths[kind] = build_native(export, out, fmi_version or version)
        with atomic_write(stamp_file) as partial:
            partial.write_text(json.dumps(stamp, indent=1))
    return paths


def _source_digest() -> str:
    """sha256 of fmutwin's own code (Python, C, shipped data): what a built FMU depends on
    besides its parameter file."""
    import hashlib

    root = Path(__file__).parent
    digest = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".c", ".h", ".json") and p.is_file()):
        digest.update(str(f.relative_to(root)).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def pack_system(fmus: dict[str, Path], pack: Any, coolant_flow_kg_per_s: float = 0.05,
                coolant_inlet_temperature_K: float = 293.15, ambient_temperature_K: float = 298.15,
                with_bms: bool = True, with_load: bool = True, charger: bool = False,
                initial_temperature_K: float | None = None, initial_soc: float | None = None,
                name: str = "pack") -> System:
    """The coupled pack of ``pack`` (a PackParameters of ``n_modules`` modules of the module FMU's
    design) on the FMUs ``fmus`` (by kind). Without the load the modules' current is an input the
    caller drives (``module{m}.current``, and the BMS's ``packCurrent``); without the BMS nothing
    is clamped or balanced. ``charger``: no load; a charger connected to the pack delivers the
    BMS's CC-CV request (the modules' and the BMS's current are minus ``bms.chargeCurrentRequest``,
    the request of the step before, as a charger follows its BMS). ``initial_temperature_K``: every
    cell, plate and the enclosure start there (default: the files' initial temperatures);
    ``initial_soc``: the cells' mean initial SoC, their realised spread kept."""
    if charger and (with_load or not with_bms):
        raise ValueError("pack_system: a charger needs the BMS and no load")
    pack = pack.realise()
    if initial_temperature_K is not None:
        realised = dict(pack.realised or {})
        realised["initial_temperature_K"] = [float(initial_temperature_K)] * pack.n_modules * pack.module.n_cells
        pack = pack.model_copy(update={"realised": realised})
    if initial_soc is not None:
        realised = dict(pack.realised or {})
        socs = np.asarray(realised["initial_soc"], dtype=float)
        realised["initial_soc"] = list(np.clip(socs - socs.mean() + float(initial_soc), 0.0, 1.0))
        pack = pack.model_copy(update={"realised": realised})
    n, ns, m_count = pack.module.n_cells, pack.module.n_series, pack.n_modules
    np_ = pack.module.n_parallel
    system = System(name, algorithm="gauss-seidel", step_s=1.0)
    modules = [f"module{m + 1}" for m in range(m_count)]
    if with_load:
        system.add("load", fmus["load"], parameters={"numModules": m_count})
    for m, mod in enumerate(modules):
        share = {VARIATION_PARAMETERS[k]: [float(v) for v in values[m * n:(m + 1) * n]]
                 for k, values in (pack.realised or {}).items()}
        system.add(mod, fmus["module"], parameters=share)
    thermal = {"coolantFlow": coolant_flow_kg_per_s, "coolantInletTemperature": coolant_inlet_temperature_K,
               "ambientTemperature": ambient_temperature_K}
    if initial_temperature_K is not None:
        thermal.update(initialPlateTemperature=[float(initial_temperature_K)] * m_count,
                       initialEnclosureTemperature=float(initial_temperature_K))
    system.add("thermal", fmus["thermal"], parameters=thermal)
    if with_bms:
        system.add("bms", fmus["bms"], parameters={"chargerConnected": True} if charger else {})
    for m, mod in enumerate(modules):
        k = m + 1
        system.connect(f"{mod}.heatToColdPlate", f"thermal.plateHeat[{k}]")
        system.connect(f"{mod}.heatToAmbient", f"thermal.enclosureHeat[{k}]")
        system.connect(f"thermal.plateTemperature[{k}]", f"{mod}.coldPlateTemperature")
        system.connect("thermal.enclosureTemperature", f"{mod}.ambientTemperature")
        if with_load:
            system.connect("load.current", f"{mod}.current")
            system.connect(f"{mod}.moduleVoltage", f"load.moduleVoltage[{k}]")
        if charger:
            system.connect("bms.chargeCurrentRequest", f"{mod}.current", gain=-1.0)
        if with_bms:
            first, last = m * ns + 1, (m + 1) * ns
            system.connect(f"{mod}.elementVoltage", f"bms.elementVoltage[{first}:{last}]")
            system.connect(f"{mod}.cellTemperature[1:{n - np_ + 1}:{np_}]", f"bms.elementTemperature[{first}:{last}]")
            system.connect(f"bms.bleed[{first}:{last}]", f"{mod}.bleed")
    if charger:
        system.connect("bms.chargeCurrentRequest", "bms.packCurrent", gain=-1.0)
    if with_bms and with_load:
        system.connect("load.current", "bms.packCurrent")
        system.connect("bms.dischargeCurrentLimit", "load.dischargeCurrentLimit")
        system.connect("bms.chargeCurrentLimit", "load.chargeCurrentLimit")
    system.order = [c.name for c in system.components]
    return system


def fmu_provenance(fmus: dict[str, Path]) -> dict[str, Any]:
    """Each FMU's file, sha256 and provenance summary (the modelDescription annotation and the
    parameter file's own record), for the result's metadata: a result traces back through the
    reduced cell to the electrochemical parameters."""
    import hashlib

    from fmutwin.provenance import read_fmu
    from fmutwin.registry import load_parameter_file

    out: dict[str, Any] = {}
    for kind, path in fmus.items():
        entry: dict[str, Any] = {"fmu": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
        try:
            params, facts, findings = read_fmu(path, load_parameter_file)
            entry.update(annotation=facts, parameter_file_provenance=getattr(params, "provenance", None),
                         checks=[f"{f.status}: {f.what} {f.detail}" for f in findings])
        except ValueError as exc:  # an FMU without a parameter file (the load)
            entry["annotation"] = str(exc)
        out[kind] = entry
    return out


def element_true_soc(result: dict[str, np.ndarray], n_modules: int, n_series: int, n_parallel: int) -> np.ndarray:
    """The true SoC of each series element (mean of its cells), (time, element), from a recorder
    result holding ``module{m}.cellSoc[...]``."""
    cells = np.column_stack([result[f"module{m + 1}.cellSoc[{c + 1}]"] for m in range(n_modules)
                             for c in range(n_series * n_parallel)])
    return cells.reshape(len(cells), n_modules * n_series, n_parallel).mean(axis=2)
