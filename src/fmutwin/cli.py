"""Command line: ``fmutwin build | check | env``."""

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
def build(out: Path, twins: tuple[str, ...], versions: tuple[str, ...], native: bool) -> None:
    """Build the FMUs of every twin into one folder (Python FMI 2.0 and 3.0, native), then check them."""
    from fmutwin.fmi.build import build_all
    from fmutwin.twins.registry import TWINS

    paths = build_all(out, list(twins) or None, tuple(int(v) for v in versions) or (2, 3))
    if native:
        from fmutwin.fmi.native.build import build_native

        paths += [build_native(t, out, v) for t in (twins or sorted(TWINS)) if TWINS[t].native_spec is not None
                  for v in (tuple(int(v) for v in versions) or (2, 3))]
    _report(paths)


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


if __name__ == "__main__":
    main()
