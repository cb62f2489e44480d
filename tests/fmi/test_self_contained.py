"""The Python FMU runs from the copy of fmutwin in its own resources/ folder.

In the pytest process fmutwin is already imported, so an FMU would reuse it; these tests run
the FMU in a fresh interpreter from which the installed fmutwin is hidden, so only the FMU's
own copy can be imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fmi_reference import twin_reference

SCRIPT = textwrap.dedent('''
    import json, sys
    # hide every installed or source copy of fmutwin: only the FMU's resources/ may provide it
    sys.meta_path = [f for f in sys.meta_path if "editable" not in type(f).__name__.lower()
                     and "editable" not in getattr(f, "__module__", "")]
    sys.path = [p for p in sys.path if not p.rstrip("/").endswith("/src")]
    try:
        import fmutwin  # noqa: F401
        raise SystemExit("fmutwin is still importable outside the FMU")
    except ImportError:
        pass
    import fmpy, numpy as np
    fmu, time_s, current = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    signal = np.array(list(zip(time_s, current)), dtype=[("time", float), ("current", float)])
    r = fmpy.simulate_fmu(fmu, stop_time=time_s[-1], step_size=1.0, output_interval=1.0, input=signal,
                          output=["batteryVoltage", "stateOfCharge"])
    print(json.dumps({"v": r["batteryVoltage"].tolist(), "soc": r["stateOfCharge"].tolist(),
                      "fmutwin": sys.modules["fmutwin"].__file__}))
''')


@pytest.mark.parametrize("version", [2, 3])
def test_fmu_runs_where_fmutwin_is_not_installed(cell_fmu, us06_profile, version):
    time_s, current = us06_profile[0][:121], us06_profile[1][:121]
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(cell_fmu(version)), json.dumps(time_s.tolist()),
                           json.dumps(current.tolist())], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "/resources/fmutwin/" in out["fmutwin"], out["fmutwin"]
    ref = twin_reference(time_s, current)
    np.testing.assert_allclose(out["v"][1:], ref["voltage_V"], rtol=1e-9)
    np.testing.assert_allclose(out["soc"][1:], ref["soc"], rtol=1e-9)
