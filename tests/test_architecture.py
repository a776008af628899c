"""The package layout is the data flow: no module imports from a later stage; one module
names the workspace's files; the web app never loads plotting."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import disentangle

STAGES = {
    "errors": 0, "io": 0, "locking": 0, "metrics": 0, "threads": 0, "workspace": 0,
    "judging": 1,
    "corpus": 1, "embed": 2, "sae": 3, "codes": 4, "ray_engine": 4,
    "interpret": 5, "families": 5, "search": 5,  # siblings: none imports another
    "stages": 6, "api": 7, "demo": 7, "cli": 8, "app": 8,
}


def imported_stages(path: Path) -> set[str]:
    stages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("disentangle."):
                stages.add(node.module.split(".")[1])
            elif node.module == "disentangle":
                stages.update(a.name for a in node.names if a.name in STAGES)
        elif isinstance(node, ast.Import):
            stages.update(a.name.split(".")[1] for a in node.names
                          if a.name.startswith("disentangle."))
    return stages


def test_every_module_belongs_to_a_stage_and_imports_only_earlier_ones():
    root = Path(disentangle.__file__).parent
    violations = []
    for path in root.rglob("*.py"):
        top = path.relative_to(root).with_suffix("").parts[0]
        if top == "__init__":
            continue
        assert top in STAGES, f"{path} is not assigned to a stage in this test"
        for other in imported_stages(path) - {top}:
            later = STAGES[other] > STAGES[top]
            sibling = STAGES[other] == STAGES[top] == STAGES["search"]
            if later or sibling:
                violations.append(f"{path.relative_to(root)} imports {other}")
    assert not violations, violations


ARTIFACT_NAME = re.compile(r"^[\w-]+\.(parquet|safetensors|npy|pt|graphml)$")
NAMED_ELSEWHERE = {"demo.py"}
"""The shared data set's own files, not workspace artifacts."""


def test_only_the_workspace_names_artifact_files():
    root = Path(disentangle.__file__).parent
    spelled = []
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if relative == "workspace.py" or relative in NAMED_ELSEWHERE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and ARTIFACT_NAME.match(node.value):
                spelled.append(f"{relative}: {node.value}")
    assert not spelled, spelled


def test_the_web_app_and_the_python_api_load_no_plotting():
    code = ("import sys, disentangle.app.server, disentangle.api; "
            "print(any(m.startswith('matplotlib') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_the_python_api_exports_what_it_lists():
    from disentangle import api

    assert all(getattr(api, name) is not None for name in api.__all__)
    assert callable(api.embed) and callable(api.interpret) and callable(api.codes)
