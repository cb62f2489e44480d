"""The system description: connections checked against the FMUs before anything runs, each
refusal naming both ends; the SSD file round trip; malformed files named."""

from __future__ import annotations

import pytest

from fmutwin.cosim import System, SystemError, load, resolve, save


def _two(pack_fmus) -> System:
    s = System("two")
    s.add("module1", pack_fmus["module"])
    s.add("thermal", pack_fmus["thermal"])
    return s


@pytest.mark.parametrize("source, target, message", [
    ("module1.heatToColdPlat", "thermal.plateHeat[1]", "no variable 'heatToColdPlat'; did you mean 'heatToColdPlate'"),
    ("module1.heatToColdPlate", "thermal.plateTemperature[1]", "target thermal.plateTemperature[1] is a output"),
    ("module1.current", "thermal.plateHeat[1]", "source module1.current is a input, not an output"),
    ("module1.moduleVoltage", "thermal.plateHeat[1]", "unit mismatch, module1.moduleVoltage is in V and "
                                                      "thermal.plateHeat[1] in W"),
    ("module1.elementVoltage", "thermal.plateHeat[1:8]", "12 source elements for 8 target elements"),
    ("module1.heatToColdPlate", "thermal.plateHeat[9]", "'plateHeat[9]' is outside plateHeat[1:8]"),
    ("module1.heatToColdPlate", "pump.flow", "unknown component 'pump'"),
    ("module1.heatToColdPlate", "thermal", "an endpoint is component.variable"),
])
def test_bad_connections_are_refused_naming_both_ends(pack_fmus, source, target, message):
    s = _two(pack_fmus)
    s.connect(source, target)
    with pytest.raises(SystemError) as info:
        resolve(s)
    assert message in str(info.value)
    assert f"{source} -> {target}" in str(info.value) or "unknown component" in str(info.value) \
        or "endpoint" in str(info.value)


def test_type_mismatch_double_feed_and_unconnected_inputs(pack_fmus):
    s = _two(pack_fmus)
    s.add("bms", pack_fmus["bms"])
    s.connect("bms.bleed[1:12]", "module1.coldPlateTemperature")  # 12 Booleans into one Real
    with pytest.raises(SystemError, match="12 source elements for 1 target"):
        resolve(s)
    s.connections.clear()
    s.connect("bms.alarmAny", "module1.coldPlateTemperature")
    with pytest.raises(SystemError, match="type mismatch, bms.alarmAny is Boolean and module1.coldPlateTemperature"):
        resolve(s)
    s.connections.clear()
    s.connect("thermal.plateTemperature[1]", "module1.coldPlateTemperature")
    s.connect("thermal.plateTemperature[2]", "module1.coldPlateTemperature")
    with pytest.raises(SystemError, match="already fed by thermal.plateTemperature\\[1\\]"):
        resolve(s)


def test_a_gain_converts_units_and_ranges_expand_with_a_stride(pack_fmus):
    s = _two(pack_fmus)
    s.add("bms", pack_fmus["bms"])
    s.connect("module1.moduleVoltage", "thermal.plateHeat[1]", gain=0.0)  # a gain declares the conversion
    s.connect("module1.cellTemperature[1:45:4]", "bms.elementTemperature[1:12]")
    r = resolve(s)
    temps = [lk for lk in r.links if lk.target == "bms"]
    assert [lk.source_signal.name for lk in temps] == [f"cellTemperature[{i}]" for i in range(1, 46, 4)]
    assert [lk.target_signal.name for lk in temps] == [f"elementTemperature[{i}]" for i in range(1, 13)]


def test_algebraic_loops_among_feedthrough_components_are_refused(pack_fmus):
    s = System("loop")
    s.add("a", pack_fmus["load"], feedthrough=True)
    s.add("b", pack_fmus["load"], feedthrough=True)
    s.connect("a.packVoltage", "b.moduleVoltage[1]")
    s.connect("b.packVoltage", "a.moduleVoltage[1]")
    with pytest.raises(SystemError, match="algebraic loop among feedthrough components: a.packVoltage -> "
                                          "b.moduleVoltage\\[1\\]; b.packVoltage -> a.moduleVoltage\\[1\\]"):
        resolve(s)
    s.components[1] = s.components[1].__class__("b", pack_fmus["load"])  # one step in the loop breaks it
    resolve(s)


def test_save_and_load_round_trip(pack_fmus, pack, tmp_path):
    from fmutwin.pack_cosim import pack_system

    system = pack_system(pack_fmus, pack)
    path = tmp_path / "sub" / "pack.ssd"
    save(system, path)
    again = load(path)
    assert [c.name for c in again.components] == [c.name for c in system.components]
    assert [c.fmu.resolve() for c in again.components] == [c.fmu.resolve() for c in system.components]
    scalars = {f"{k}[{i + 1}]": v for k, values in system.components[1].parameters.items() for i, v in enumerate(values)}
    assert again.components[1].parameters == scalars  # module1's realised variation, element by element
    from fmutwin.cosim.ssp import validate

    validate(path.read_bytes(), "SystemStructureDescription.xsd", str(path))  # SSP 1.0, as the docs say
    assert again.connections == system.connections
    assert (again.order, again.step_s, again.algorithm) == (system.order, system.step_s, system.algorithm)
    assert len(resolve(again).links) == len(resolve(system).links)


def test_malformed_files_are_named(tmp_path):
    bad = tmp_path / "bad.ssd"
    bad.write_text("<ssd:SystemStructureDescription xmlns:ssd='x'")
    with pytest.raises(SystemError, match="bad.ssd: cannot read the system description"):
        load(bad)
    bad.write_text("<root/>")
    with pytest.raises(SystemError, match="not ssd:SystemStructureDescription"):
        load(bad)
    bad.write_text("<ssd:SystemStructureDescription xmlns:ssd='http://ssp-standard.org/SSP1/SystemStructureDescription'"
                   " name='x'><ssd:System name='x'><ssd:Elements><ssd:Component name='m'/></ssd:Elements></ssd:System>"
                   "</ssd:SystemStructureDescription>")
    with pytest.raises(SystemError, match="bad.ssd:1: Component has no 'source' attribute"):
        load(bad)
