"""The import graph of ``workbench/`` and ``baselines/`` flows one way (walked with ``ast``, nothing imported).

Layer order, lowest first (a module may import its own layer or a lower one, never a higher one):

0. base — ``errors``, ``paths``, ``atomic``, ``locks``, ``config``, ``registry``, ``ffmpeg``, ``provenance``,
   ``checkpoint``, ``context`` (no workbench import above them);
1. ``data`` → 2. ``degrade`` → 3. ``ops`` → 4. ``models`` → 5. ``baselines`` → 6. ``zoo`` (the model registry,
   filled from models and baselines; ``plugins`` adds user models, ``checkpoint_formats`` loads files into
   them) → 7. ``codec`` (the learned codec and x265) → 8. ``store`` (versioned
   results, reported numbers) → 9. ``evaluate`` (metrics, streaming inference, complexity, studies) →
   10. ``train`` (validation uses evaluation) → 11. ``report`` (figures from the store) → 12. ``pipeline``
   (cells, runner: trains, evaluates, publishes, renders) → 13. ``reproduce`` → 14. ``api`` (the notebook user's
   functions) → 15. ``cli``.

Also: no cycle between modules, and no import inside a function unless the line (or the one above it)
carries a comment saying why (e.g. ``# lazy: keeps workbench --help fast``).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYERS: list[set[str]] = [
    {"workbench", "workbench.errors", "workbench.paths", "workbench.atomic", "workbench.locks", "workbench.config",
     "workbench.registry", "workbench.ffmpeg", "workbench.provenance", "workbench.checkpoint", "workbench.context"},
    {"workbench.data"}, {"workbench.degrade"}, {"workbench.ops"}, {"workbench.models"}, {"baselines"},
    {"workbench.zoo", "workbench.plugins", "workbench.checkpoint_formats"},
    {"workbench.codec"}, {"workbench.store"}, {"workbench.evaluate"}, {"workbench.train"},
    {"workbench.report"}, {"workbench.pipeline"}, {"workbench.reproduce"}, {"workbench.api"}, {"workbench.cli"},
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    best, best_len = -1, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best_len:
                best, best_len = i, len(name)
    assert best >= 0, f"{module} belongs to no declared layer; add it to LAYERS"
    return best


def all_modules() -> set[str]:
    return {module_name(p) for folder in ("workbench", "baselines") for p in (REPO / folder).rglob("*.py")}


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        keep = len(parts) - node.level + (1 if is_package else 0)
        base = ".".join(parts[:keep] + ([base] if base else []))
    # ``from workbench.data import embedded`` imports the module workbench.data.embedded
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def project_imports() -> dict[str, list[tuple[str, int, bool, bool]]]:
    """module → [(imported module, line, inside a function, has a why-comment)] for project imports."""
    out: dict[str, list[tuple[str, int, bool, bool]]] = {}
    known = all_modules()
    for folder in ("workbench", "baselines"):
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            tree = ast.parse(text)
            module = module_name(path)
            inside: set[int] = set()
            for fn in ast.walk(tree):
                if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    inside |= {id(n) for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom)}
            found = []
            for node in ast.walk(tree):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                ln = node.lineno
                commented = "#" in lines[ln - 1] or (ln > 1 and lines[ln - 2].strip().startswith("#"))
                for target in _targets(node, module, path.name == "__init__.py", known):
                    found.append((target, ln, id(node) in inside, commented))
            out[module] = found
    return out


def test_every_module_has_a_layer() -> None:
    for module in project_imports():
        layer_of(module)


def test_no_import_of_a_higher_layer() -> None:
    bad = []
    for module, imports in project_imports().items():
        for target, line, _, _ in imports:
            if target.split(".")[0] not in ("workbench", "baselines"):
                continue
            if layer_of(target) > layer_of(module):
                bad.append(f"{module}:{line} imports {target} (layer {layer_of(target)} > {layer_of(module)})")
    assert not bad, "\n".join(bad)


def test_no_function_level_import_without_a_reason() -> None:
    bad = [f"{module}:{line} imports {target} inside a function without a comment saying why"
           for module, imports in project_imports().items()
           for target, line, in_function, commented in imports if in_function and not commented]
    assert not bad, "\n".join(bad)


def test_no_cycle_between_modules() -> None:
    imports = project_imports()
    graph = {m: {t for t, *_ in imps if t in imports} - {m} for m, imps in imports.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend(stack[stack.index(nxt):] + [node, nxt] if nxt in stack else [node, nxt])
                return True
            if nxt not in state and visit(nxt, stack + [node]):
                return True
        state[node] = 2
        return False

    for node in sorted(graph):
        if node not in state and visit(node, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_the_layer_test_sees_a_violation(tmp_path: Path) -> None:
    """The checker itself: an evaluate module importing the pipeline is reported."""
    assert layer_of("workbench.pipeline.runner") > layer_of("workbench.evaluate.infer")
    assert layer_of("baselines.edvr") > layer_of("workbench.models.base")
    assert layer_of("workbench.zoo") < layer_of("workbench.train.run")
