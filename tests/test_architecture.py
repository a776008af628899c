"""The package layout is the data flow: no module imports from a later stage."""

import ast
from pathlib import Path

import disentangle

STAGES = {
    "errors": 0, "io": 0, "metrics": 0, "threads": 0, "workspace": 0,
    "corpus": 1, "embed": 2, "sae": 3, "codes": 4,
    "interpret": 5, "families": 5, "search": 5,  # siblings: none imports another
    "pipeline": 6, "analysis": 7, "demo": 8, "cli": 9, "app": 9,
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
