"""Count how spread out the hyperparameter-to-net seam is (issue 18).

Prints two measurements for the current checkout:

* the lines in the top-level private modules ``skdl/_*.py``;
* for each hyperparameter in ``WATCHED``, the number of places in ``skdl/``
  that read it off an estimator: an attribute load ``<obj>.<name>`` where
  ``<obj>`` names an estimator (``self``, ``estimator``, ``est``, ``model``)
  or a subscript / ``.get`` with the name as a string key on a parameter
  dict (a name containing ``params``). ``__init__`` bodies, which only store
  the parameters, are not counted; neither are reads of the resolved
  ``plan``, which are counted on their own.

Run it from the repository root: ``python benchmarks/seam_metrics.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WATCHED = (
    "device",
    "precision",
    "batch_size",
    "patience",
    "lr_schedule",
    "hidden_layer_sizes",
    "image_size",
    "weights",
    "max_epochs",
    "optimizer",
    "lr",
    "callbacks",
)


ESTIMATOR_NAMES = {"self", "estimator", "est", "model"}


def _is_params(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and "params" in node.id


class _Reads(ast.NodeVisitor):
    def __init__(self) -> None:
        self.plan_reads = 0
        self.hits: dict[str, list[str]] = {name: [] for name in WATCHED}
        self.where = ""
        self.in_init = 0

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.in_init += node.name == "__init__"
        self.generic_visit(node)
        self.in_init -= node.name == "__init__"

    visit_AsyncFunctionDef = visit_FunctionDef

    def _hit(self, name: str, node: ast.AST) -> None:
        if name in self.hits and not self.in_init:
            self.hits[name].append(f"{self.where}:{node.lineno}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        owner = node.value.id if isinstance(node.value, ast.Name) else None
        if isinstance(node.ctx, ast.Load) and owner in ESTIMATOR_NAMES:
            self._hit(node.attr, node)
        elif isinstance(node.ctx, ast.Load) and owner == "plan":
            self.plan_reads += 1
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        key = node.slice
        if (
            _is_params(node.value)
            and isinstance(key, ast.Constant)
            and isinstance(key.value, str)
        ):
            if isinstance(node.ctx, ast.Load):
                self._hit(key.value, node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("get", "pop")
            and _is_params(func.value)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            self._hit(node.args[0].value, node)
        self.generic_visit(node)


def main() -> int:
    pkg = ROOT / "skdl"
    private = sorted(pkg.glob("_*.py"))
    private = [p for p in private if p.name != "__init__.py"]
    total = sum(len(p.read_text().splitlines()) for p in private)
    every = sum(len(p.read_text().splitlines()) for p in pkg.rglob("*.py"))
    print(f"top-level private modules: {len(private)} files, {total} of {every} lines")
    reads = _Reads()
    for path in sorted(pkg.rglob("*.py")):
        reads.where = str(path.relative_to(ROOT))
        reads.visit(ast.parse(path.read_text()))
    print(f"reads of the resolved plan (plan.<field>): {reads.plan_reads}")
    print("places each hyperparameter is read off an estimator (files):")
    for name, hits in reads.hits.items():
        files = sorted({h.split(":")[0] for h in hits})
        print(f"  {name:20s} {len(hits):3d} reads in {len(files):2d} files")
    if "-v" in sys.argv[1:]:
        for name, hits in reads.hits.items():
            print(name, " ".join(hits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
