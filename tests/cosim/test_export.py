"""The pack exported as an SSP 1.0 archive and run by three importers that are not fmutwin's
master: OSP libcosim, ecos and fmpy (its SSP reader and FMU classes), each compared with the
master's own result on the same archive.

The pack is the flagship's (8 native Module FMUs of 12s4p with the realised cell variation, the
PackThermal, Bms and PowerLoad FMUs), every FMU FMI 2.0 (SSP 1.0 connectors cannot name FMI 3.0
array elements), over the first 120 s of WLTC as the load's power demand, Jacobi coupling at 1 s
(the algorithm all three importers use), with the same initialisation (Jacobi sweeps in
initialisation mode until nothing changes, the master's default): each importer must agree with
the master to 1e-9 (measured: bit for bit; the Jacobi - Gauss-Seidel coupling difference of the
same run is 0.1 V).

Importer quirks (measured here): libcosimpy's ``from_ssp_file`` takes the step in nanoseconds;
libcosim applies the manipulators from the first step, not in initialisation (the load's power
demand at the start is therefore in the archive's parameter values); ecos 0.7.2 does not apply
parameter-set values to inputs, and applies one value per variable name to every instance (all
eight modules got module1's ``initialSoc[1]``), so the test sets the archive's values itself
before ``init``; fmpy's ``simulate_ssp``
starts every input at 0.0 (0 K temperatures, which the FMUs refuse) and reads
``ssd:LinearTransformation`` where the XSD has ``ssc:``, so the fmpy run here is fmpy's reader and
``FMU2Slave`` driven by the plain Jacobi loop below.
"""

from __future__ import annotations

import dataclasses
import gc
import zipfile
from pathlib import Path

import numpy as np
import pytest

N_STEPS = 120
OUTPUTS = ["load.packVoltage", "module1.moduleVoltage", "module8.minCellVoltage", "bms.soc[1]", "bms.soc[96]", "thermal.outletTemperature",
           "load.current", "module8.maxCellTemperature", "bms.chargeCurrentLimit"]


@pytest.fixture(scope="module")
def power():
    from fmutwin.data import power_per_second

    return np.asarray(power_per_second("WLTC")[1][:N_STEPS], dtype=float)


@pytest.fixture(scope="module")
def fmi2_pack(tmp_path_factory, pack, power):
    """The FMI 2.0 pack system and its archive."""
    from fmutwin.cosim.ssp import export_ssp
    from fmutwin.pack_cosim import build_pack_fmus, pack_system

    folder = tmp_path_factory.mktemp("ssp")
    fmus = build_pack_fmus(folder / "fmus", 2)
    system = pack_system(fmus, pack, name="pack")
    load = system.components[0]
    system.components[0] = dataclasses.replace(load, parameters={**load.parameters, "powerDemand": float(power[0])})
    system.stop_s = float(N_STEPS)
    system.algorithm = "jacobi"
    return system, export_ssp(system, folder / "pack.ssp")


def _ours(system_or_ssp, power, tmp_path):
    from fmutwin.cosim import Execution, InputSource
    from fmutwin.cosim.ssp import open_ssp

    system = open_ssp(system_or_ssp, tmp_path / "unpacked") if isinstance(system_or_ssp, Path) else system_or_ssp
    result = Execution(system, "jacobi", manipulators=[InputSource("load.powerDemand", np.arange(N_STEPS, dtype=float),
                                                                    power)]).run(float(N_STEPS), 1.0)
    return np.column_stack([result[o][1:] for o in OUTPUTS])


@pytest.fixture(scope="module")
def ours(fmi2_pack, power, tmp_path_factory):
    return _ours(fmi2_pack[1], power, tmp_path_factory.mktemp("ours"))


def test_archive_is_valid_ssp_1_0(fmi2_pack, pack):
    """The archive validates against the SSP 1.0 XSDs (fmpy's reader validates on reading), has
    the importers' quirks met, and carries each module's realised cell variation as scalars."""
    from fmpy.ssp.ssd import read_ssd
    from lxml import etree

    system, ssp = fmi2_pack
    ssd = read_ssd(str(ssp), validate=True)  # raises on an XSD violation, also of the .ssv files
    assert [c.name for c in ssd.system.elements] == [c.name for c in system.components]
    with zipfile.ZipFile(ssp) as z:
        text = z.read("SystemStructure.ssd").decode()
        names = set(z.namelist())
    root = etree.fromstring(text.encode())
    assert text.count("<ssd:Component ") == len(system.components) and 'version="1.0"' in text
    ns = {"ssd": "http://ssp-standard.org/SSP1/SystemStructureDescription"}
    for comp in root.iterfind(".//ssd:Component", ns):
        assert comp.get("type") == "application/x-fmu-sharedlibrary" and comp.get("source") in names
        for conn in comp.iterfind("ssd:Connectors/ssd:Connector", ns):
            assert len(conn) == 1 and etree.QName(conn[0]).localname in ("Real", "Integer", "Boolean"), conn.get("name")
    ends = {(c.endElement, c.endConnector) for c in ssd.system.connections}
    for comp in ssd.system.elements:  # fmpy's reader fails on an input connector nothing feeds
        for conn in comp.connectors:
            assert conn.kind != "input" or (comp.name, conn.name) in ends, (comp.name, conn.name)
    realised = pack.realise().realised
    n = pack.module.n_cells
    for m in (1, 8):
        values = {p.name: p.value for p in next(c for c in ssd.system.elements if c.name == f"module{m}")
                  .parameterBindings[0].parameterValues[0].parameters}
        for key, name in (("initial_soc", "initialSoc"), ("capacity_scale", "capacityScale")):
            expected = realised[key][(m - 1) * n:m * n]
            np.testing.assert_array_equal([float(values[f"{name}[{i + 1}]"]) for i in range(n)], expected)


def test_archive_round_trip_runs_as_the_system(fmi2_pack, ours, power, tmp_path):
    """The master on the unpacked archive gives the original system's run bit for bit."""
    system, _ = fmi2_pack
    np.testing.assert_array_equal(_ours(system, power, tmp_path), ours)


def test_libcosim_runs_the_archive(fmi2_pack, ours, power):
    from libcosimpy.CosimExecution import CosimExecution
    from libcosimpy.CosimLogging import CosimLogLevel, log_output_level
    from libcosimpy.CosimManipulator import CosimManipulator
    from libcosimpy.CosimObserver import CosimObserver
    from libcosimpy._internal import get_last_error_message

    log_output_level(CosimLogLevel.WARNING)
    execution = CosimExecution.from_ssp_file(str(fmi2_pack[1].resolve()), step_size=10 ** 9)  # nanoseconds
    assert execution is not None, get_last_error_message()
    index = {s.name.decode(): s.index for s in execution.slave_infos()}
    refs = {c: {v.name.decode(): v.reference for v in execution.slave_variables(i)} for c, i in index.items()}
    override, observer = CosimManipulator.create_override(), CosimObserver.create_last_value()
    assert execution.add_manipulator(override) and execution.add_observer(observer)
    rows = []
    try:
        for k in range(N_STEPS):
            assert override.slave_real_values(index["load"], [refs["load"]["powerDemand"]], [float(power[k])])
            assert execution.step(), get_last_error_message()
            rows.append([observer.last_real_values(index[c], [refs[c][v]])[0]
                         for c, v in (o.split(".", 1) for o in OUTPUTS)])
    finally:
        del execution
        del override, observer
        gc.collect()
    np.testing.assert_allclose(np.array(rows), ours, rtol=1e-9, atol=1e-9)


def test_ecos_runs_the_archive(fmi2_pack, ours, power):
    from ecospy import EcosSimulation

    from fmpy.ssp.ssd import read_ssd

    ssd = read_ssd(str(fmi2_pack[1]))
    rows = []
    with EcosSimulation(step_size=1.0, ssp_path=str(fmi2_pack[1].resolve())) as sim:
        for c in ssd.system.elements:  # the archive's values, set as ecos cannot (see the module docstring)
            for p in c.parameterBindings[0].parameterValues[0].parameters if c.parameterBindings else ():
                setter = {"Real": sim.set_real, "Integer": sim.set_integer, "Boolean": sim.set_bool}[p.type]
                setter(f"{c.name}::{p.name}", {"Real": float, "Integer": int, "Boolean": lambda x: x in (True, "true")}
                       [p.type](p.value))
        sim.init()
        for k in range(N_STEPS):
            sim.set_real("load::powerDemand", float(power[k]))
            assert sim.step() == pytest.approx(k + 1.0)
            rows.append([sim.get_real(o.replace(".", "::", 1)) for o in OUTPUTS])
        sim.terminate()
    gc.collect()
    np.testing.assert_allclose(np.array(rows), ours, rtol=1e-9, atol=1e-9)


def test_fmpy_reads_and_runs_the_archive(fmi2_pack, ours, power):
    """fmpy's SSP reader (connections, the .ssv values) and its FMU2Slave, in a plain Jacobi loop
    with the initialisation libcosim uses (sweeps of set inputs / get outputs in initialisation
    mode until nothing changes)."""
    import fmpy
    from fmpy.fmi2 import FMU2Slave
    from fmpy.ssp.ssd import read_ssd

    ssp = fmi2_pack[1]
    ssd = read_ssd(str(ssp))
    unzipped = Path(fmpy.extract(str(ssp)))
    comps, variables = {}, {}
    for c in ssd.system.elements:
        md = fmpy.read_model_description(str(unzipped / c.source))
        variables[c.name] = {v.name: v for v in md.modelVariables}
        fmu = FMU2Slave(guid=md.guid, unzipDirectory=fmpy.extract(str(unzipped / c.source)),
                        modelIdentifier=md.coSimulation.modelIdentifier, instanceName=c.name)
        fmu.instantiate()
        fmu.setupExperiment(startTime=0.0)
        for binding in c.parameterBindings:
            for p in binding.parameterValues[0].parameters:
                v = variables[c.name][p.name]
                setter = {"Real": fmu.setReal, "Integer": fmu.setInteger, "Boolean": fmu.setBoolean}[v.type]
                setter([v.valueReference], [{"Real": float, "Integer": int, "Boolean": lambda x: x in (True, "true")}
                                            [v.type](p.value)])
        fmu.enterInitializationMode()
        comps[c.name] = fmu
    links = [(c.startElement, variables[c.startElement][c.startConnector], c.endElement,
              variables[c.endElement][c.endConnector]) for c in ssd.system.connections]

    def get(name, var):
        fmu = comps[name]
        return (fmu.getReal if var.type == "Real" else fmu.getInteger if var.type == "Integer" else fmu.getBoolean)(
            [var.valueReference])[0]

    def transfer(t):
        values = [get(a, va) for a, va, _, _ in links]
        for (_, _, b, vb), value in zip(links, values):
            fmu = comps[b]
            (fmu.setReal if vb.type == "Real" else fmu.setInteger if vb.type == "Integer" else fmu.setBoolean)(
                [vb.valueReference], [value])
        comps["load"].setReal([variables["load"]["powerDemand"].valueReference], [float(power[min(int(t), N_STEPS - 1)])])
        return np.array(values, dtype=float)

    previous = transfer(0)
    for _ in range(100):
        now = transfer(0)
        if np.all(np.abs(now - previous) <= 1e-12 * (1 + np.abs(now))):
            break
        previous = now
    for fmu in comps.values():
        fmu.exitInitializationMode()
    rows = []
    for k in range(N_STEPS):
        transfer(k)
        for fmu in comps.values():
            fmu.doStep(currentCommunicationPoint=float(k), communicationStepSize=1.0)
        rows.append([get(c, variables[c][v]) for c, v in (o.split(".", 1) for o in OUTPUTS)])
    for fmu in comps.values():
        fmu.terminate()
        fmu.freeInstance()
    np.testing.assert_allclose(np.array(rows), ours, rtol=1e-9, atol=1e-9)


def test_fmi3_arrays_are_refused_and_bad_archives_named(pack_fmus, pack, tmp_path):
    from fmutwin.cosim import SystemError
    from fmutwin.cosim.ssp import export_ssp, open_ssp
    from fmutwin.pack_cosim import pack_system

    with pytest.raises(SystemError, match=r"FMI 3.0 array 'elementVoltage'.*FMI 2.0"):
        export_ssp(pack_system(pack_fmus, pack), tmp_path / "pack.ssp")
    assert not (tmp_path / "pack.ssp").exists()
    (tmp_path / "broken.ssp").write_bytes(b"not a zip")
    with pytest.raises(SystemError, match="broken.ssp: not an SSP archive"):
        open_ssp(tmp_path / "broken.ssp", tmp_path / "x")
    with zipfile.ZipFile(tmp_path / "empty.ssp", "w") as z:
        z.writestr("readme.txt", "")
    with pytest.raises(SystemError, match="no SystemStructure.ssd"):
        open_ssp(tmp_path / "empty.ssp", tmp_path / "y")


def test_gain_and_offset_survive_the_archive(fmi2_pack, tmp_path):
    """A connection's gain and offset are an ssc:LinearTransformation the master reads back."""
    from fmutwin.cosim import System
    from fmutwin.cosim.ssp import export_ssp, open_ssp

    thermal = fmi2_pack[0].component("thermal").fmu
    system = System("two", step_s=1.0, stop_s=3.0)
    system.add("a", thermal)
    system.add("b", thermal)
    system.connect("a.outletTemperature", "b.coolantInletTemperature", gain=0.5, offset=150.0)
    back = open_ssp(export_ssp(system, tmp_path / "two.ssp"), tmp_path / "unpacked")
    assert [(c.source, c.target, c.gain, c.offset) for c in back.connections] == \
        [("a.outletTemperature", "b.coolantInletTemperature", 0.5, 150.0)]


def test_missing_parameter_file_is_named(fmi2_pack, tmp_path):
    from fmutwin.cosim import SystemError
    from fmutwin.cosim.ssp import open_ssp

    damaged = tmp_path / "damaged.ssp"
    with zipfile.ZipFile(fmi2_pack[1]) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.namelist():
            if item != "resources/module3.ssv":
                dst.writestr(item, src.read(item))
    with pytest.raises(SystemError, match=r"cannot read the parameter values .*module3.ssv"):
        open_ssp(damaged, tmp_path / "unpacked")


def test_cli_exports_and_runs_an_ssp(fmi2_pack, tmp_path):
    from click.testing import CliRunner

    from fmutwin.cli import main
    from fmutwin.cosim import read_results, save

    system, _ = fmi2_pack
    save(system, tmp_path / "pack.ssd")
    runner = CliRunner()
    done = runner.invoke(main, ["export-ssp", str(tmp_path / "pack.ssd"), "-o", str(tmp_path / "cli.ssp")])
    assert done.exit_code == 0, done.output
    run = runner.invoke(main, ["cosim", "run", str(tmp_path / "cli.ssp"), "--stop", "5", "--step", "1",
                               "--out", str(tmp_path / "r.csv")])
    assert run.exit_code == 0, run.output
    result = read_results(tmp_path / "r.csv")
    assert len(result["time"]) == 6 and np.all(np.isfinite(result["module1.moduleVoltage"]))
    bad = runner.invoke(main, ["export-ssp", str(tmp_path / "missing.ssd"), "-o", str(tmp_path / "x.ssp")])
    assert bad.exit_code != 0


# -- the whole system as one FMU (fmpy's container) -------------------------------------------------

@pytest.fixture(scope="module")
def container(fmi2_pack, tmp_path_factory):
    from fmutwin.cosim.container import export_fmu

    folder = tmp_path_factory.mktemp("container")
    return {v: export_fmu(fmi2_pack[0], folder / f"Pack_fmi{v}.fmu", v) for v in (2, 3)}


@pytest.mark.parametrize("version", [2, 3])
def test_container_fmu_validates_and_runs_in_fmpy_as_the_master(container, ours, power, pack, version):
    """One FMU of the 11: conformant (fmpy.validate_fmu), its interface the pack's unconnected
    inputs, parameter values and outputs, and its run in fmpy the master's Jacobi run."""
    import fmpy
    from fmpy.validation import validate_fmu

    fmu = container[version]
    assert validate_fmu(str(fmu)) == []
    md = fmpy.read_model_description(str(fmu))
    inputs = {v.name for v in md.modelVariables if v.causality == "input"}
    assert inputs == {"load.powerDemand", "thermal.coolantFlow", "thermal.coolantInletTemperature",
                      "thermal.ambientTemperature", "bms.chargerConnected", "bms.packVoltage"}
    units = {v.name: v.unit for v in md.modelVariables}
    assert units["load.packVoltage"] == "V" and units["module1.cellTemperature[1]"] == "K"
    starts = {v.name: v.start for v in md.modelVariables}
    realised = pack.realise().realised
    assert float(starts["module8.initialSoc[48]"]) == realised["initial_soc"][8 * 48 - 1]
    assert float(starts["module3.capacityScale[7]"]) == realised["capacity_scale"][2 * 48 + 6]
    signal = np.array([(float(k), power[min(k, N_STEPS - 1)]) for k in range(N_STEPS + 1)],
                      dtype=[("time", "f8"), ("load.powerDemand", "f8")])
    result = fmpy.simulate_fmu(str(fmu), stop_time=float(N_STEPS), step_size=1.0, output_interval=1.0, input=signal,
                               output=OUTPUTS)
    np.testing.assert_allclose(np.column_stack([result[o][1:] for o in OUTPUTS]), ours, rtol=1e-9, atol=1e-9)


def test_container_fmu_in_libcosim_and_ecos(container, ours, power):
    """libcosim (FMI 2.0) and ecos (2.0 and 3.0) run the one FMU like the master."""
    from ecospy import EcosSimulation, EcosSimulationStructure
    from libcosimpy.CosimExecution import CosimExecution
    from libcosimpy.CosimManipulator import CosimManipulator
    from libcosimpy.CosimObserver import CosimObserver
    from libcosimpy.CosimSlave import CosimLocalSlave
    from libcosimpy._internal import get_last_error_message

    execution = CosimExecution.from_step_size(step_size=10 ** 9)
    slave = CosimLocalSlave(fmu_path=str(container[2]), instance_name="pack")
    index = execution.add_local_slave(slave)
    assert index >= 0, get_last_error_message()
    refs = {v.name.decode(): v.reference for v in execution.slave_variables(index)}
    override, observer = CosimManipulator.create_override(), CosimObserver.create_last_value()
    assert execution.add_manipulator(override) and execution.add_observer(observer)
    rows = []
    try:
        for k in range(N_STEPS):
            assert override.slave_real_values(index, [refs["load.powerDemand"]], [float(power[k])])
            assert execution.step(), get_last_error_message()
            rows.append(observer.last_real_values(index, [refs[o] for o in OUTPUTS]))
    finally:
        del execution
        del override, observer, slave
        gc.collect()
    np.testing.assert_allclose(np.array(rows), ours, rtol=1e-9, atol=1e-9, err_msg="libcosim")
    for version, fmu in container.items():
        rows = []
        with EcosSimulationStructure() as structure:
            structure.add_model("pack", fmu)
            with EcosSimulation(structure=structure, step_size=1.0) as sim:
                sim.init()
                for k in range(N_STEPS):
                    sim.set_real("pack::load.powerDemand", float(power[k]))
                    sim.step()
                    rows.append([sim.get_real(f"pack::{o}") for o in OUTPUTS])
                sim.terminate()
        gc.collect()
        np.testing.assert_allclose(np.array(rows), ours, rtol=1e-9, atol=1e-9, err_msg=f"ecos FMI {version}")


@pytest.mark.parametrize("version", [2, 3])
def test_container_fmu_in_the_c_host_without_python(fmu_host, container, ours, power, tmp_path, version):
    """The C test host (gcc, no Python in its environment) runs the one FMU of native components:
    its 'current' input is the power demand, its 'ambient' the thermal system's ambient."""
    import subprocess
    import xml.etree.ElementTree as ET

    with zipfile.ZipFile(container[version]) as z:
        z.extractall(tmp_path / "fmu")
    root = ET.parse(tmp_path / "fmu" / "modelDescription.xml").getroot()
    variables = root.iterfind("ModelVariables/ScalarVariable") if version == 2 else root.find("ModelVariables")
    refs = {v.get("name"): v.get("valueReference") for v in variables}
    token = root.get("guid") if version == 2 else root.get("instantiationToken")
    profile = tmp_path / "power.csv"
    profile.write_text("time,current\n" + "".join(f"{k}.0,{float(power[min(k, N_STEPS - 1)])!r}\n"
                                                   for k in range(N_STEPS + 1)))
    cmd = [str(fmu_host), str(tmp_path / "fmu"), str(version), "container_fmu", token,
           *(refs[n] for n in ("load.powerDemand", "thermal.ambientTemperature", "load.packVoltage", "bms.soc[1]")),
           str(profile), str(tmp_path / "out.csv")]
    proc = subprocess.run(cmd, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = np.loadtxt(tmp_path / "out.csv", delimiter=",", skiprows=1, ndmin=2)
    assert len(data) == N_STEPS
    expected = ours[:, [OUTPUTS.index("load.packVoltage"), OUTPUTS.index("bms.soc[1]")]]
    np.testing.assert_allclose(data[:, 1:3], expected, rtol=1e-9, atol=1e-9)


def test_container_refuses_what_it_cannot_couple(fmi2_pack, pack_fmus, pack, tmp_path):
    from fmutwin.cosim import SystemError
    from fmutwin.cosim.container import export_fmu
    from fmutwin.pack_cosim import pack_system

    system, _ = fmi2_pack
    gained = dataclasses.replace(system, connections=[dataclasses.replace(system.connections[0], gain=2.0),
                                                      *system.connections[1:]])
    with pytest.raises(SystemError, match="cannot apply a gain or offset"):
        export_fmu(gained, tmp_path / "x.fmu")
    with pytest.raises(SystemError, match=r"FMI 3.0 array"):
        export_fmu(pack_system(pack_fmus, pack), tmp_path / "y.fmu")
    assert not list(tmp_path.glob("*.fmu*"))


def test_cli_exports_one_fmu(fmi2_pack, tmp_path):
    from click.testing import CliRunner

    from fmutwin.cli import main

    runner = CliRunner()
    done = runner.invoke(main, ["export-fmu", str(fmi2_pack[1]), "-o", str(tmp_path / "Pack.fmu"), "--fmi", "3"])
    assert done.exit_code == 0, done.output
    import fmpy

    assert fmpy.read_model_description(str(tmp_path / "Pack.fmu")).fmiVersion == "3.0"
