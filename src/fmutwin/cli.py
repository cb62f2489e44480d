"""Command line: ``fmutwin build | check | env | reduce | provenance``."""

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
              help="cell parameter file to build the cell ECM FMUs from (e.g. one made by `fmutwin reduce`); "
                   "it and its provenance go into each FMU; default twin then: cell_ecm")
def build(out: Path, twins: tuple[str, ...], versions: tuple[str, ...], native: bool,
          parameter_file: Path | None) -> None:
    """Build the FMUs of every twin into one folder (Python FMI 2.0 and 3.0, native), then check them."""
    from fmutwin.params.base import ParameterError

    try:
        paths = build_fmus(out, list(twins), [int(v) for v in versions] or [2, 3], native, parameter_file)
    except (ParameterError, KeyError, RuntimeError, OSError) as exc:  # bad file, unknown twin, gcc failure
        raise click.ClickException(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
    _report(paths)


def build_fmus(out: Path, twins: list[str], versions: list[int], native: bool,
               parameter_file: Path | None = None) -> list[Path]:
    """The work of ``fmutwin build``; with ``parameter_file`` the cell ECM FMUs are built from it
    (``FMUTWIN_CELL_PARAMETERS`` names it while they are built, then is restored)."""
    import os

    from fmutwin.fmi.build import build_python_fmu
    from fmutwin.fmi.native.build import build_native
    from fmutwin.params.cell import CellParameters
    from fmutwin.params.defaults import CELL_FILE_ENV
    from fmutwin.registry import TWINS, twin

    entries = [twin(name) for name in twins] if twins else [TWINS[name] for name in sorted(TWINS)]
    previous = os.environ.get(CELL_FILE_ENV)
    if parameter_file is not None:
        CellParameters.load(parameter_file)  # a bad file stops here, naming the field
        os.environ[CELL_FILE_ENV] = str(Path(parameter_file).resolve())
        entries = [twin(name) for name in twins] if twins else [twin("cell_ecm")]
    try:
        paths = [build_python_fmu(entry, v, out) for entry in entries for v in versions]
        if native:
            paths += [build_native(entry, out, v) for entry in entries if entry.equations is not None
                      for v in versions]
    finally:
        if previous is None:
            os.environ.pop(CELL_FILE_ENV, None)
        else:
            os.environ[CELL_FILE_ENV] = previous
    return paths


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
    """Print the environment a host that is not Python needs to run fmutwin's Python FMUs."""
    from fmutwin.fmi.host_env import format_shell, host_environment

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


if __name__ == "__main__":
    main()
