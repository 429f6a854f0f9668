"""The package's layout rules: inference never imports training or evaluation, the bitstream
needs no torch, no module imports another that imports it back, no class over ~150 lines."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

PACKAGE = Path(__file__).resolve().parent.parent / "nac"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """nac modules that `path` imports anywhere (top level or inside functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from pkg import module` names a module
                if f"{target}.{alias.name}" in modules:
                    found.add(f"{target}.{alias.name}")
                elif target in modules:
                    found.add(target)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = list(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def test_no_import_cycles():
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, f"import cycles: {cycles}"


def test_inference_modules_never_import_training_or_evaluation():
    graph = import_graph()
    inference = [m for m in graph if m.startswith(("nac.codec", "nac.container", "nac.io", "nac.restore",
                                                   "nac.backends", "nac.api", "nac.registry"))]
    bad = {m: sorted(i for i in graph[m] if i.startswith(("nac.train", "nac.eval"))) for m in inference}
    assert not {m: v for m, v in bad.items() if v}


def test_container_imports_no_torch():
    code = ("import sys, nac.container.bitstream, nac.container.entropy, nac.container.chunking; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_decode_round_trip_imports_no_training_or_evaluation(tmp_path, tiny_model_path):
    wav = tmp_path / "in.wav"
    sf.write(wav, (0.1 * np.sin(np.arange(16000) / 8)).astype(np.float32), 16000)
    code = f"""
import sys
from nac.cli import cli
for args in (["encode", {str(wav)!r}, {str(tmp_path / 'x.nac')!r}, "--model", {tiny_model_path!r}],
             ["decode", {str(tmp_path / 'x.nac')!r}, {str(tmp_path / 'out.wav')!r}, "--model", {tiny_model_path!r}]):
    try:
        cli.main(args, standalone_mode=False)
    except SystemExit:
        pass
print(sorted(m for m in sys.modules if m.startswith(("nac.train", "nac.eval"))))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (tmp_path / "out.wav").exists(), out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_no_class_is_over_150_lines():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 155:
                long.append(f"{module_name(path)}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long


def test_every_path_the_readmes_name_exists():
    root = PACKAGE.parent
    missing = []
    for doc in (root / "README.md", root / "reports" / "README.md", root / "experiments" / "README.md"):
        for match in re.finditer(r"(?<![\w./-])((?:nac|scripts|reports|experiments|configs|data|tests)/[\w./-]*[\w/])",
                                 doc.read_text()):
            path = match.group(1)
            if not re.search(r"[A-Z]{3,}", path) and not (root / path).exists():  # NAME, RUN: placeholders
                missing.append(f"{doc.relative_to(root)}: {path}")
    assert not missing
