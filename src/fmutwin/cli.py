"""Command line: ``fmutwin build | check | env | reduce | provenance | cosim run | export-ssp | export-fmu | sweep | bms analyse``."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
@click.version_option(package_name="fmutwin")
def main() -> None:
    """fmutwin: battery digital twins as FMI co-simulation FMUs (positive current = discharge)."""


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("out/fmus"), show_default=True,
              help="output folder for the FMUs")
@click.option("--twin", "twins", multiple=True, help="twin to build (repeatable); default: all")
@click.option("--fmi", "versions", type=click.Choice(["2", "3"]), multiple=True, help="FMI version; default both")
@click.option("--native/--no-native", default=True, show_default=True,
              help="also build native FMUs (generated C, no Python at run time; needs gcc)")
@click.option("--parameters", "parameter_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="parameter file to build the FMUs from: a cell file (e.g. made by `fmutwin reduce`) builds "
                   "the cell ECM FMUs; a module, pack-thermal, BMS or electrochemical module file builds that "
                   "twin's FMUs; the file and its provenance go into each FMU")
@click.option("--runner", type=click.Choice(["process", "in-process"]), default="process", show_default=True,
              help="Python FMUs: 'process' runs each instance in a Python worker process (any FMI host, nothing "
                   "to preload); 'in-process' runs it inside the host (pythonfmu's binary: the host must provide "
                   "libpython, see `fmutwin env`)")
def build(out: Path, twins: tuple[str, ...], versions: tuple[str, ...], native: bool,
          parameter_file: Path | None, runner: str) -> None:
    """Build the FMUs of every twin into one folder (Python FMI 2.0 and 3.0, native), then check them."""
    from fmutwin.params.base import ParameterError

    try:
        paths = build_fmus(out, list(twins), [int(v) for v in versions] or [2, 3], native, parameter_file, runner)
    except (ParameterError, KeyError, RuntimeError, OSError, ValueError) as exc:  # bad file, unknown twin, gcc
        raise click.ClickException(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
    _report(paths)


def build_fmus(out: Path, twins: list[str], versions: list[int], native: bool,
               parameter_file: Path | None = None, runner: str = "process") -> list[Path]:
    """The work of ``fmutwin build``; with ``parameter_file`` the FMUs of the twin that file is for
    are built from it (a cell file: the cell ECM FMUs, ``FMUTWIN_CELL_PARAMETERS`` naming it while
    they are built)."""
    import os

    from fmutwin.fmi.build import build_python_fmu
    from fmutwin.fmi.native.build import build_native
    from fmutwin.params.cell import CellParameters
    from fmutwin.params.defaults import CELL_FILE_ENV
    from fmutwin.registry import TWINS, twin, twin_for_file

    entries = [twin(name) for name in twins] if twins else [TWINS[name] for name in sorted(TWINS)]
    previous = os.environ.get(CELL_FILE_ENV)
    if parameter_file is not None and _is_cell_file(parameter_file):
        CellParameters.load(parameter_file)  # a bad file stops here, naming the field
        os.environ[CELL_FILE_ENV] = str(Path(parameter_file).resolve())
        entries = [twin(name) for name in twins] if twins else [twin("cell_ecm")]
    elif parameter_file is not None:
        entries = [twin_for_file(parameter_file)]
    try:
        paths = [build_python_fmu(entry, v, out, runner) for entry in entries for v in versions]
        if native:
            paths += [build_native(entry, out, v) for entry in entries if entry.equations is not None
                      for v in versions]
    finally:
        if previous is None:
            os.environ.pop(CELL_FILE_ENV, None)
        else:
            os.environ[CELL_FILE_ENV] = previous
    return paths


def _is_cell_file(path: Path) -> bool:
    """A cell parameter file (not a module, pack-thermal or BMS file), by its keys."""
    import json

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return True  # CellParameters.load names what is wrong with it
    return not (isinstance(data, dict) and ("n_series" in data or "n_modules" in data
                                            or data.get("kind") in ("bms", "cell_echem")))


def _report(paths: list[Path]) -> None:
    """Check each FMU, print what is wrong, exit 1 if anything is."""
    from fmutwin.fmi.check import check_fmu

    failed = False
    for path in paths:
        problems = check_fmu(path)
        failed |= bool(problems)
        click.echo(f"{path}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            click.echo(f"  {problem}")
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("fmus", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(fmus: tuple[Path, ...]) -> None:
    """Check FMUs: XSD, fmpy validation, units. Exit status 1 if any problem."""
    _report(list(fmus))


@main.command()
@click.argument("fmu", required=False, type=click.Path(path_type=Path))
def env(fmu: Path | None) -> None:
    """Print the environment a host that is not Python needs to run fmutwin's in-process Python
    FMUs (out-of-process FMUs, the default, need none: said as a comment)."""
    from fmutwin.fmi.host_env import format_shell, host_environment
    from fmutwin.fmi.process.build import recorded_interpreter

    if fmu is not None and recorded_interpreter(fmu) is not None:
        click.echo(f"# {fmu} runs out of process: nothing to set (its worker runs {recorded_interpreter(fmu)}; "
                   "FMUTWIN_PYTHON or the parameter pythonExecutable choose another interpreter)")
        return
    click.echo(format_shell(host_environment(fmu)))


@main.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("out/reduced"), show_default=True,
              help="output folder: the parameter file <name>.json and, with --fmus, its FMUs")
@click.option("--fmus/--no-fmus", default=True, show_default=True, help="build the cell ECM FMUs from the result")
@click.option("--native/--no-native", default=True, show_default=True, help="with --fmus: also native FMUs")
def reduce(config: Path | None, out: Path, fmus: bool, native: bool) -> None:
    """Fit an ECM to electrochemical simulations, validate it, write it with its provenance.

    CONFIG is a JSON file of fmutwin.reduction.pipeline.ReductionConfig fields (model, parameter_set
    or bpx_file, temperatures_K, n_rc, fit and validation cycles, calibration ...); without it the
    defaults run (PyBaMM DFN, Chen2020, 15/25/35 degC, 2 RC pairs).
    """
    import logging
    import subprocess

    from fmutwin.params.base import ParameterError
    from fmutwin.reduction.pipeline import ReductionConfig, reduce as run

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the pipeline's progress lines

    try:
        cfg = ReductionConfig.load(config) if config else ReductionConfig()
    except ParameterError as exc:
        raise click.ClickException(str(exc)) from None
    from fmutwin.twins.cell_echem import LimitReached

    try:
        result = run(cfg, out, command="fmutwin reduce " + " ".join(sys.argv[2:]))
    except (ValueError, LimitReached) as exc:  # bad names, bounds, data; an experiment past the model's limits
        raise click.ClickException(str(exc)) from None
    click.echo(f"{result.path}: {cfg.n_rc} RC pairs at {', '.join(f'{t:g}' for t in cfg.temperatures_K)} K "
               f"(simulation {result.timings_s['simulation']:.1f} s, total {result.timings_s['total']:.1f} s)")
    for v in result.validation:
        click.echo(f"  {v.experiment:10s} {v.temperature_K:7.2f} K  RMS {1e3 * v.rms_V:6.2f} mV  "
                   f"max {1e3 * v.max_V:6.1f} mV")
    if fmus:  # a fresh process: the cell twin's variables are declared from the new file
        cmd = [sys.executable, "-m", "fmutwin.cli", "build", "--out", str(out), "--parameters", str(result.path),
               "--native" if native else "--no-native"]
        sys.exit(subprocess.run(cmd).returncode)


@main.command(name="provenance")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def provenance_cmd(path: Path) -> None:
    """Print how a parameter file or an FMU was made, and check it: exit status 2 if stale.

    Stale: the parameter content was edited after generation, or an input it was made from
    (data file, BPX file, PyBaMM parameter set) no longer has the recorded hash.
    """
    from fmutwin.params.base import ParameterError
    from fmutwin.provenance import main_text
    from fmutwin.registry import load_parameter_file

    try:
        lines, stale = main_text(path, load_parameter_file)
    except (ValueError, ParameterError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("\n".join(lines))
    sys.exit(2 if stale else 0)



@main.group()
def cosim() -> None:
    """Co-simulation of FMUs (any FMI 2.0 / 3.0 co-simulation FMUs, through fmpy)."""


@cosim.command("run")
@click.argument("system_or_scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--stop", type=float, help="stop time [s] (default: the system's or scenario's)")
@click.option("--step", type=float, help="macro step [s] (default: the system's or scenario's)")
@click.option("--algorithm", type=click.Choice(["jacobi", "gauss-seidel", "iterated"]), help="coupling algorithm")
@click.option("--out", type=click.Path(path_type=Path), help="result file, .csv or .parquet (default: results.csv "
              "beside the system, or the scenario's)")
def cosim_run(system_or_scenario: Path, stop: float | None, step: float | None, algorithm: str | None,
              out: Path | None) -> None:
    """Run a system description (.ssd), an SSP archive (.ssp) or a scenario (.json: system, inputs,
    events, outputs)."""
    from fmutwin.cosim import CosimError, Execution, FileWriter, SystemError, load, make_algorithm
    from fmutwin.cosim.scenario import algorithm_of, load_scenario, manipulators_of, writer_of
    from fmutwin.cosim.ssp import open_system

    try:
        if system_or_scenario.suffix == ".json":
            scenario, base = load_scenario(system_or_scenario)
            system = load(base / scenario.system)
            stop, step = stop or scenario.stop_s, step or scenario.step_s
            writer = writer_of(scenario, out, base, {"scenario": str(system_or_scenario)})
            execution = Execution(system, algorithm_of(scenario, algorithm), [writer], manipulators_of(scenario, base))
            execution.run(stop, step)
        else:
            with open_system(system_or_scenario) as system:
                writer = FileWriter(out or system_or_scenario.with_name("results.csv"),
                                    metadata={"system": str(system_or_scenario)})
                execution = Execution(system, make_algorithm(algorithm) if algorithm else None, [writer])
                execution.run(stop, step)
    except (SystemError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except CosimError as exc:
        click.echo(f"stopped: {exc}; results up to t = {exc.time_s:g} s are in {writer.path}", err=True)
        sys.exit(1)
    click.echo(f"{system.name}: {execution.stats.steps} steps in {execution.stats.wall_s:.1f} s; wrote {writer.path}")


@main.command("export-ssp")
@click.argument("system", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="the .ssp archive")
def export_ssp_command(system: Path, out: Path) -> None:
    """Export a system description (.ssd, or an .ssp to rewrite) as an SSP 1.0 archive: SystemStructure.ssd, the FMUs
    under resources/, parameter values (each module's realised cell variation) as .ssv files.
    Its FMUs must be FMI 2.0 where arrays are connected (SSP 1.0 cannot name FMI 3.0 array elements)."""
    from fmutwin.cosim import SystemError
    from fmutwin.cosim.ssp import export_ssp, open_system

    try:
        with open_system(system) as description:
            export_ssp(description, out)
    except SystemError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{description.name}: {len(description.components)} components, {len(description.connections)} "
               f"connections; wrote {out}")


@main.command("export-fmu")
@click.argument("system", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="the .fmu")
@click.option("--fmi", "fmi_version", type=click.Choice(["2", "3"]), default="2", show_default=True,
              help="FMI version of the container FMU (its components keep theirs)")
def export_fmu_command(system: Path, out: Path, fmi_version: str) -> None:
    """Export a system description (.ssd or .ssp) as one co-simulation FMU (fmpy's container FMU):
    its unconnected inputs, parameter values and every output, coupled by Jacobi at the system's
    step; no Python at run time when its FMUs are native."""
    from fmutwin.cosim import CosimError, SystemError
    from fmutwin.cosim.container import export_fmu
    from fmutwin.cosim.ssp import open_system

    try:
        with open_system(system) as description:
            export_fmu(description, out, int(fmi_version))
    except (SystemError, CosimError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{description.name}: {len(description.components)} FMUs in one FMI {fmi_version}.0 FMU; wrote {out}")


@main.command("sweep")
@click.argument("sweep_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="result folder (default: "
              "out/<the sweep's name>)")
@click.option("--fmus", type=click.Path(file_okay=False, path_type=Path), default=Path("out/pack_fmus"),
              show_default=True, help="the pack's FMUs (built there once if missing or stale)")
@click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True, help="local worker processes")
@click.option("--scheduler", help="a Dask scheduler address (tcp://host:8786): run on that cluster instead")
@click.option("--retry-failed", is_flag=True, help="run the scenarios whose row says failed again")
def sweep_command(sweep_file: Path, out: Path | None, fmus: Path, workers: int, scheduler: str | None,
                  retry_failed: bool) -> None:
    """Run the scenarios of a sweep file (drive cycle x ambient x cooling x variation seed x aging)
    on the pack co-simulation; one row per scenario in OUT/rows/ (Parquet, written as each ends;
    a sweep run again goes on where it stopped), then OUT/results.parquet and OUT/summary.png."""
    import pyarrow.parquet as pq

    from fmutwin import pack_sweep
    from fmutwin.cosim.sweep import read_table
    from fmutwin.report import plot_sweep

    try:
        sweep, scenarios = pack_sweep.load_sweep(sweep_file)
    except pack_sweep.SweepError as exc:
        raise click.ClickException(str(exc)) from None
    out = out or Path("out") / sweep.name
    try:
        ran = pack_sweep.run(sweep, scenarios, out, fmus, scheduler, workers, retry_failed=retry_failed)
    except ValueError as exc:  # a folder of another sweep's settings, a scenario id that cannot be a file name
        raise click.ClickException(str(exc)) from None
    table = read_table(out / "rows", scenarios)
    pq.write_table(table, out / "results.parquet")
    rows = table.to_pylist()
    plot_sweep(out / "summary.png", rows, f"{sweep.name}: {len(rows)} scenarios")
    failed = [r["id"] for r in rows if r["status"] != "ok"]
    click.echo(f"{sweep.name}: {len(ran)} scenarios run now, {len(rows)} in all, {len(failed)} failed; wrote "
               f"{out / 'results.parquet'} and {out / 'summary.png'}")
    for key in failed:
        click.echo(f"  failed: {key}", err=True)


@main.group()
def bms() -> None:
    """The BMS twin's algorithms outside a co-simulation."""


@bms.command("analyse")
@click.argument("log", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--parameters", "parameter_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="BMS parameter file (default: the shipped example, 12s4p)")
@click.option("--out", type=click.Path(path_type=Path), default=Path("out/bms_analysis"), show_default=True)
@click.option("--time-column", default="time", show_default=True, help="time column [s]")
@click.option("--current-column", default="current", show_default=True, help="pack current column [A]")
@click.option("--current-sign", type=click.Choice(["1", "-1"]), default="1", show_default=True,
              help="-1 for a log that counts charge positive (fmutwin: positive = discharge)")
@click.option("--voltage-prefix", default="V", show_default=True, help="element voltage columns: V1, V2, ..")
@click.option("--temperature-prefix", default="T", show_default=True, help="temperature columns: T1, T2, .. (or T1)")
@click.option("--temperature-unit", type=click.Choice(["K", "degC"]), default="K", show_default=True)
@click.option("--max-gap", type=float, default=60.0, show_default=True, help="longest accepted gap between rows [s]")
def bms_analyse(log: Path, parameter_file: Path | None, out: Path, time_column: str, current_column: str,
                current_sign: str, voltage_prefix: str, temperature_prefix: str, temperature_unit: str,
                max_gap: float) -> None:
    """Run the BMS on a logged CSV; write its outputs, the alarm events, a report and a plot."""
    from fmutwin.interface import InputError, StateError
    from fmutwin.params.base import ParameterError
    from fmutwin.params.bms import BmsParameters
    from fmutwin.params.defaults import default_bms_parameters
    from fmutwin.twins.bms_log import LogError, analyse, read_log, write_report

    try:
        params = BmsParameters.load(parameter_file) if parameter_file else default_bms_parameters()
        data = read_log(log, params.n_series, time_column, current_column, voltage_prefix, temperature_prefix,
                        temperature_unit, float(current_sign), max_gap)
        result = analyse(data, params)
        summary = write_report(out, data, result, params)
    except (LogError, ParameterError, InputError, StateError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{log}: {summary['rows']} rows, SoC {summary['soc_start']:.3f} -> {summary['soc_end']:.3f}, "
               f"{summary['alarm_events']} alarm events; wrote {out}/report.md, events.csv, bms_outputs.csv, "
               "bms_analysis.png")


if __name__ == "__main__":
    main()
