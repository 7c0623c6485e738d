"""mypy on the kernel and the stages, with the stages under their installed names.

In: the ``[tool.mypy]`` section of pyproject.toml (which files, how strict) and any extra mypy
arguments. Out: mypy's report, and its exit status (0: no error). Run: ``python -m
wirewatch.devtools.typecheck``.

Why not bare ``mypy``: the stage folders ``ingest/``, ``process/`` and ``alerts/`` install as
``wirewatch.ingest``, ``wirewatch.process`` and ``wirewatch.alerts`` (``[tool.setuptools.package-dir]``),
a mapping mypy cannot read (it would name ``ingest/poller.py`` ``ingest.poller`` and find no
``wirewatch.ingest``). This gives each file of a mapped folder its installed module name, then runs
mypy's own build with the options mypy read from the configuration.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from mypy import build
from mypy.errors import CompileError
from mypy.main import process_options
from mypy.modulefinder import BuildSource


def package_dirs(pyproject: Path) -> dict[str, str]:
    """Installed package name -> folder, for the folders installed under another name."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    mapping: dict[str, str] = config.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    return {name: folder for name, folder in mapping.items() if name != folder}


def installed_name(source: BuildSource, root: Path, mapping: dict[str, str]) -> BuildSource:
    """``source`` under the module name it has once installed (unchanged outside the mapped folders)."""
    if source.path is None:
        return source
    relative = Path(source.path).resolve().relative_to(root.resolve()) if Path(source.path).is_absolute() \
        else Path(source.path)
    for name, folder in mapping.items():
        if relative.parts[:1] == (folder,):
            rest = [p for p in relative.with_suffix("").parts[1:] if p != "__init__"]
            return BuildSource(source.path, ".".join([name, *rest]), source.text, source.base_dir)
    return source


def main(argv: list[str] | None = None) -> int:
    root = Path.cwd()
    sources, options = process_options(list(sys.argv[1:] if argv is None else argv))
    mapping = package_dirs(root / "pyproject.toml")
    sources = [installed_name(s, root, mapping) for s in sources]
    try:
        result = build.build(sources, options)
    except CompileError as exc:  # a blocking error (a syntax error, a module found twice)
        for line in exc.messages:
            print(line, file=sys.stderr)
        return 2
    for line in result.errors:
        print(line)
    errors = sum(1 for line in result.errors if ": error:" in line)
    checked = len(sources)
    print(f"Found {errors} error(s) in {checked} source file(s)" if errors else
          f"Success: no issues found in {checked} source files")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
