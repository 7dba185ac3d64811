"""The package's layers hold: no module imports from a layer above its own (docs/architecture.md).

Walks every import in the package (top level and deferred into functions alike) with ``ast``: no exception; the
core's registries are filled by entry point (contract/registry.py), never by importing a layer above.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import zvt_crypto

PACKAGE = Path(zvt_crypto.__file__).parent
# lower number = lower layer; packages of one layer do not import each other
LAYERS = {
    "contract": 0,
    "domain": 1,
    "recorders": 2, "dataio": 2, "factors": 2, "sim": 2,
    "schedule": 3,
    "trader": 4,
    "cli": 5, "ui": 5, "demo": 5, "facade": 5, "__main__": 5,
}
# same-layer imports that are part of the design
ALLOWED_SIDEWAYS = {("__main__", "cli"), ("cli", "demo"), ("demo", "cli"), ("cli", "ui")}  # cli/serve.py starts the ui


def imports() -> list[tuple[str, str, str]]:
    """(module path, its package, the zvt_crypto package it imports) for every import in the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        source = relative.split("/", 1)[0].removesuffix(".py")
        if source == "__init__":
            continue  # the root re-exports lazily; it is above every layer
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            out += [(relative, source, name.split(".")[1]) for name in names
                    if name.startswith("zvt_crypto.") and name.split(".")[1] != source]
    return out


def test_every_package_has_a_layer() -> None:
    packages = {path.name.removesuffix(".py") for path in PACKAGE.iterdir()
                if (path.is_dir() and (path / "__init__.py").exists()) or path.suffix == ".py"} - {"__init__"}
    assert packages <= set(LAYERS), f"give these a layer in LAYERS and docs/architecture.md: {packages - set(LAYERS)}"


def test_no_import_from_a_higher_layer() -> None:
    found = imports()
    assert found, "no import found: the walk is broken"
    upward = {(module, target) for module, source, target in found if LAYERS[target] > LAYERS[source]}
    sideways = {(module, target) for module, source, target in found
                if LAYERS[target] == LAYERS[source] and (source, target) not in ALLOWED_SIDEWAYS}
    assert not upward, f"imports from a higher layer: {sorted(upward)}"
    assert not sideways, f"imports between packages of one layer: {sorted(sideways)}"


def test_the_core_imports_alone() -> None:
    """Every module of ``contract`` imported in a fresh interpreter loads no module of a layer above it."""
    code = (
        "import importlib, pkgutil, sys, zvt_crypto.contract as core\n"
        "for info in pkgutil.walk_packages(core.__path__, 'zvt_crypto.contract.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(sorted(name for name in sys.modules if name.startswith('zvt_crypto.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)}, check=False)
    assert result.returncode == 0, result.stderr
    loaded = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert "zvt_crypto.contract.store" in loaded and "zvt_crypto.contract.migrate" in loaded  # the walk imported
    above = [name for name in loaded if name.split(".")[1] != "contract"]
    assert not above, f"importing the core loaded {above}"
