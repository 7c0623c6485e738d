"""The floors, read from the imports: the kernel imports no stage, stages import no other stage, and
the app reaches the stages only through its registry.

In: every module of the checkout's packages, parsed (not imported). Out: one assertion per rule, each
naming the modules that break it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("ingest", "process", "alerts")
REGISTRY = "wirewatch.app.registry"


def modules() -> dict[str, Path]:
    """Installed module name -> file, for the kernel, the app, the dev tools and the stage folders."""
    found = {}
    for folder, package in [("wirewatch", "wirewatch"), *((s, f"wirewatch.{s}") for s in STAGES)]:
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imported(path: Path, module: str) -> set[str]:
    """The wirewatch modules that ``module`` imports, anywhere in it (lazy imports included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names.add(base)
    return {n for n in names if n.startswith("wirewatch")}


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "wirewatch" and parts[1] in STAGES else None


def floor_of(module: str) -> str:
    if stage_of(module):
        return "stage"
    if module.startswith(("wirewatch.app", "wirewatch.__main__")):
        return "app"
    if module.startswith("wirewatch.devtools"):
        return "devtools"
    return "kernel"


def test_the_kernel_imports_no_stage_and_no_app() -> None:
    wrong = [f"{m} -> {t}" for m, p in modules().items() if floor_of(m) == "kernel"
             for t in imported(p, m) if floor_of(t) in ("stage", "app")]
    assert not wrong, wrong


def test_a_stage_imports_no_other_stage_and_not_the_app() -> None:
    wrong = [f"{m} -> {t}" for m, p in modules().items() if stage_of(m)
             for t in imported(p, m) if (stage_of(t) and stage_of(t) != stage_of(m)) or floor_of(t) == "app"]
    assert not wrong, wrong


def test_the_app_reaches_the_stages_only_through_the_registry() -> None:
    wrong = [f"{m} -> {t}" for m, p in modules().items() if floor_of(m) in ("app", "devtools") and m != REGISTRY
             for t in imported(p, m) if stage_of(t)]
    assert not wrong, wrong


def test_the_dev_tools_are_not_used_by_the_product() -> None:
    wrong = [f"{m} -> {t}" for m, p in modules().items() if floor_of(m) in ("kernel", "stage")
             for t in imported(p, m) if floor_of(t) == "devtools"]
    assert not wrong, wrong


def test_every_stage_tool_the_registry_offers_can_be_imported() -> None:
    from wirewatch.app import registry

    for door in (registry.ingest, registry.process, registry.alerts):
        for name in door.__all__:
            assert getattr(door, name) is not None, f"{door.__name__}.{name}"
