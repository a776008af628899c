"""Evaluations of what an SAE lets a user do, stored beside it."""

from __future__ import annotations

from disentangle.io import write_json, write_parquet, write_text
from disentangle.search import evaluate_steering, load_query_set, summary_markdown
from disentangle.stages.reports import SteeringEvalReport
from disentangle.stages.search import searcher
from disentangle.workspace import Workspace


def evaluate_steering_sets(workspace: Workspace, name: str | None = None,
                           sets: tuple[str, ...] = ("astro", "ml"),
                           mode: str = "residual") -> SteeringEvalReport:
    """Feature steering against query rewriting on each query set; per-query rows and a
    summary per set, plus one markdown report, in the SAE's evaluation folder."""
    folder = workspace.sae(name)
    engine = searcher(workspace, folder.name)
    summaries, paths = [], []
    for set_name in sets:
        query_set = load_query_set(set_name)
        table, summary = evaluate_steering(engine, query_set, mode=mode)
        table_path, summary_path = folder.eval_paths(
            f"steering-{query_set.name.removesuffix('.json').replace('/', '_')}-{mode}")
        write_parquet(table_path, table)
        write_json(summary_path, summary)
        summaries.append(summary)
        paths += [table_path, summary_path]
    markdown = summary_markdown(summaries)
    report_path = folder.eval_report_path(f"steering-{mode}")
    write_text(report_path, markdown + "\n")
    return SteeringEvalReport(folder.name, summaries, markdown, [*paths, report_path])
