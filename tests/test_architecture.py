"""The house's rules (ARCHITECTURE.md): which package may import which, and every module imports
on its own in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What each part of the project may import of the project (ARCHITECTURE.md, "Layers").
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "service_logging": set(),
    "events": set(),
    "models": set(),
    "migrations": {"models"},
    "domain": {"models", "events"},
    "mailer": {"domain", "models", "events", "config"},
    "schema": {"domain", "models", "events", "config", "service_logging"},
    "resolvers": {"schema", "domain", "models", "events", "config", "service_logging"},
    "api": {"resolvers", "schema", "domain", "models", "events", "config", "service_logging"},
    "app": {"api", "schema", "mailer", "domain", "models", "events", "config", "service_logging"},
    "cli": {
        "app",
        "api",
        "schema",
        "mailer",
        "domain",
        "models",
        "events",
        "config",
        "service_logging",
    },
}
PACKAGES = [name for name in ALLOWED if (ROOT / name).is_dir()]
TOP_MODULES = [name for name in ALLOWED if (ROOT / f"{name}.py").is_file()]


def _source_files() -> list[Path]:
    files = [ROOT / f"{name}.py" for name in TOP_MODULES]
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def _part(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def _imported_parts(path: Path) -> set[tuple[str, int]]:
    """The project's parts that a file imports (at any depth: function-level imports count)."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update((name.split(".")[0], node.lineno) for name in names)
    return {(part, line) for part, line in found if part in ALLOWED}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_the_allowed_imports_have_no_circle() -> None:
    # A depth-first walk over ALLOWED: the rules themselves must describe layers.
    done: set[str] = set()

    def visit(part: str, path: tuple[str, ...]) -> None:
        assert part not in path, f"the layer rules form a circle: {' -> '.join((*path, part))}"
        if part in done:
            return
        for lower in ALLOWED[part]:
            visit(lower, (*path, part))
        done.add(part)

    for part in ALLOWED:
        visit(part, ())


def test_every_import_follows_the_layer_rules() -> None:
    broken = [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for path in _source_files()
        for imported, line in sorted(_imported_parts(path))
        if imported != _part(path) and imported not in ALLOWED[_part(path)]
    ]

    assert broken == [], "see ARCHITECTURE.md, Layers"


def test_the_layer_test_sees_a_broken_rule(tmp_path: Path) -> None:
    """The check reads function-level imports too (a guard against a check that sees nothing)."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from api.schema import build_schema\n")

    assert _imported_parts(probe) == {("api", 2)}


# Imported before forking, so that each child starts with the libraries loaded but none of the
# project's modules: what it imports of ours, it imports cold, on its own.
_COLD_IMPORTS = """
import importlib, os, sys
for library in ("strawberry", "starlette", "tortoise", "graphql", "pydantic_settings", "jinja2",
                "aiosmtplib", "typer", "email_validator", "argon2", "orjson", "prometheus_client"):
    importlib.import_module(library)
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException as error:
            sys.stderr.write(f"{name}: {type(error).__name__}: {error}\\n")
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failed.append(name)
print(" ".join(failed))
"""


def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    modules = [
        _module_name(path)
        for path in _source_files()
        if path.name != "__main__.py" and _part(path) != "migrations"
    ]
    assert "resolvers.accounts" in modules
    assert "api.schema" in modules

    done = subprocess.run(
        [sys.executable, "-c", _COLD_IMPORTS, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], done.stderr
