"""What `disentangle features list` shows beside each label."""

from __future__ import annotations

import pyarrow as pa
from rich.console import Console

from disentangle.cli import interpret_commands


def test_the_list_flags_clean_and_mixed_features(monkeypatch) -> None:
    recorder = Console(record=True, width=200)
    monkeypatch.setattr(interpret_commands, "console", recorder)
    table = pa.table({
        "feature": [0, 1, 2], "label": ["dark matter", "topological data analysis", "mixed: a, b"],
        "keywords": [["halo"], [], []], "pearson": [0.5, 0.2, 0.1], "f1": [0.6, 0.3, 0.2],
        "pearson_balanced": [0.9, 0.4, 0.3], "density": [0.01, 0.002, 0.003],
        "clean": [True, False, False], "mixed": [False, True, True]})
    interpret_commands._print_features(table, "features")
    rows = {line.split("│")[2].strip(): line.split("│")[-2].strip()
            for line in recorder.export_text().splitlines() if line.count("│") > 3}
    assert rows["dark matter"] == "clean"
    assert rows["topological data analysis"] == "mixed", "a phrase alone would read as named"
    assert rows["mixed: a, b"] == "mixed"
