"""The README's Python example runs as written (on a tiny corpus and a small SAE)."""

import os
import re
from pathlib import Path

from cli.test_cli_end_to_end import write_corpus

README = Path(__file__).parents[1] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    section = text[text.index("### Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_example_runs(tmp_path):
    corpus = tmp_path / "papers.jsonl"
    write_corpus(corpus)
    corpus.write_text("".join(corpus.read_text().splitlines(keepends=True)[:-1]))  # valid rows
    code = (readme_example().replace('"papers.jsonl.gz"', repr(str(corpus)))
            .replace("n=3072, k=32", "n=48, k=4").replace("epochs=20", "epochs=2, batch_size=16")
            .replace('up("gravitational lensing")', 'up(0)'))
    scope: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), scope)
    finally:
        os.chdir(cwd)
    hits = scope["hits"]
    assert len(hits.hits) == 10
    assert all(h.categories[0].startswith("astro-ph") for h in hits.hits)
    assert scope["trained"].name == "n48-k4"
