"""The shape of the code: packages import only downward, no file imports itself back through others, the text
library and the domain stay free of what they must not touch, and files of the code location stay short."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each package may import only the packages before it (and itself).
LAYERS = ["onett_text", "onett_domain", "onett_resources", "onett_assets", "onett_portal", "onett_cli"]
ALLOWED = {
    "onett_text": set(),
    "onett_domain": {"onett_text"},
    "onett_resources": {"onett_text", "onett_domain"},
    "onett_assets": {"onett_text", "onett_domain", "onett_resources"},
    "onett_portal": {"onett_text", "onett_domain", "onett_resources"},
    "onett_cli": {"onett_text", "onett_domain", "onett_resources", "onett_assets", "onett_portal"},
}
FORBIDDEN = {"onett_text": {"dagster", "dagster_duckdb", "duckdb"}, "onett_domain": {"dagster", "dagster_duckdb"}}


def modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, name: str, known: frozenset[str] = frozenset()) -> set[str]:
    """Every module `path` imports, at the top or inside a function (not under TYPE_CHECKING). `from a import b` where
    `a.b` is a module imports `a.b`; otherwise it imports `a` (for a name `a` defines)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    names = frozenset(known)
    return {name: {m for m in imports(path, name, names) if m in known and m != name} for name, path in known.items()}


def test_packages_import_only_downward():
    wrong = []
    for name, targets in graph().items():
        package = name.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if other != package and other not in ALLOWED[package]:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_files():
    edges = graph()
    # a package's __init__ is imported with each of its modules: count importing `a.b` as importing `a.b` only
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target] if target in path else [node, target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_text_library_and_domain_keep_out_what_they_must_not_touch():
    wrong = []
    for name, path in modules().items():
        banned = FORBIDDEN.get(name.split(".")[0], set())
        used = {m.split(".")[0] for m in imports(path, name)}
        wrong += [f"{name} imports {m}" for m in sorted(used & banned)]
    assert not wrong, "\n".join(wrong)


def test_workers_and_the_domain_load_without_dagster():
    """A preprocessing worker starts without Dagster (its import alone costs a second), and the portal and the CLI
    use the domain without importing the code location."""
    code = ("import sys; import onett_resources.preprocessing_jobs, onett_domain.statement, onett_domain.credit; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'onett_assets')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


def test_code_location_files_are_short_or_say_why():
    long = []
    for path in sorted((ROOT / "onett_assets").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > 300 and "over 300 lines" not in "\n".join(lines[:5]):
            long.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
    assert not long, "\n".join(long)
