"""The flagship pack's shipped files are what their functions make (so each traces to its source:
the module and BMS to the reduced cell's content and record hashes, the cell to the reduction's
record), and the pack's C-rates on WLTC are what fmutwin.params.flagship says."""

from __future__ import annotations

import json

import numpy as np

from fmutwin.params import flagship


def test_the_shipped_flagship_files_are_remade_by_their_functions():
    cell = flagship.flagship_cell()
    for made, name in ((flagship.flagship_module(cell), flagship.MODULE_FILE),
                       (flagship.flagship_bms(cell), flagship.BMS_FILE)):
        shipped = json.loads(flagship.data_file(name).read_text())
        made = made.realise() if hasattr(made, "realise") else made  # saved with its realised variation
        assert json.loads(made.model_dump_json()) == json.loads(type(made).from_dict(shipped).model_dump_json())
    record = json.loads(flagship.data_file(flagship.CELL_FILE).read_text())["provenance"]
    assert record["config"]["model"] == "DFN" and record["config"]["parameter_set"] == "Chen2020"
    assert record["config"]["parameter_overrides"]["Electrode height [m]"] == 0.65


def test_the_wltc_demand_is_an_ev_c_rate_for_the_pack():
    from fmutwin.data import power_per_second

    pack = flagship.flagship_pack_parameters()
    cell = pack.module.cell
    capacity_Ah = cell.nominal_capacity_As / 3600.0 * pack.module.n_parallel
    nominal_V = float(np.mean(cell.ocv_V.values)) * pack.module.n_series * pack.n_modules if hasattr(cell.ocv_V, "values") \
        else 3.7 * 96
    _, power = power_per_second("WLTC")
    peak_c = power.max() / nominal_V / capacity_Ah
    assert 0.4 < peak_c < 0.9 and len(pack.realised["capacity_scale"]) == 384
