"""Evaluations of what an SAE lets a user do, stored beside it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa

from disentangle.errors import DisentangleError
from disentangle.io import write_json, write_parquet, write_text
from disentangle.search import (
    DEFAULT_BLEND,
    evaluate_steering,
    load_query_set,
    summarise,
    summary_markdown,
    targets,
    targets_markdown,
)
from disentangle.search.evaluation import (
    DENSITY_RANGE,
    SEED,
    STRENGTHS,
    Rewriter,
    interpretable_features,
)
from disentangle.search.hybrid import DEFAULT_POOL, PoolRule
from disentangle.search.judge_packets import PACKET_SEED, build_packet, write_packet
from disentangle.stages.reports import SteeringEvalReport
from disentangle.stages.search import searcher
from disentangle.workspace import Workspace

STEERING_STEM = "steering"
"""``eval/steering.parquet`` (per query), ``.json`` (summary, targets, cases), ``.md``."""


def evaluate_steering_sets(workspace: Workspace, name: str | None = None,
                           sets: Sequence[str] = ("astro", "ml"), seed: int = SEED,
                           blend: float = DEFAULT_BLEND,
                           strengths: Sequence[float] = STRENGTHS,
                           density_range: tuple[float, float] = DENSITY_RANGE,
                           llm: Callable[[], Rewriter] | None = None,
                           packets: Path | None = None,
                           packet_seed: int = PACKET_SEED,
                           pool: PoolRule = DEFAULT_POOL,
                           packet_keys: Path | None = None) -> SteeringEvalReport:
    """The paper's steering protocol on each query set (see
    :mod:`disentangle.search.evaluation`): per-query rows, a summary with the issue's targets
    and a markdown table in the SAE's evaluation folder; with ``packets``, a blind judge packet
    in that folder and its key there too, or in ``packet_keys``. ``llm`` makes the LLM
    rewriter (a chat model, or rewrites read from a file); the rewrites it gave are written
    beside the results as JSON lines, readable back with ``--rewrites``."""
    folder = workspace.sae(name)
    engine = searcher(workspace, folder.name)
    interpretable = interpretable_features(folder.features(["feature", "interpretable"]))
    rewriter = llm() if llm is not None else None
    tables, cases = [], []
    rewrites: list[dict[str, str | None]] = []
    for set_name in sets:
        table, drawn = evaluate_steering(engine, load_query_set(set_name), interpretable, seed=seed,
                                         blend=blend, strengths=tuple(strengths),
                                         llm=rewriter, density_range=density_range,
                                         pool=pool, rewrites=rewrites)
        if not drawn:
            raise DisentangleError(
                f"no query of {set_name} lacks an interpretable feature of density "
                f"{density_range[0]:g}–{density_range[1]:g}; widen --density or label the "
                "features")
        tables.append(table)
        cases += [(set_name, case) for case in drawn]
    table = pa.concat_tables(tables)
    summary = summarise(table)
    checks = targets(summary)
    table_path, summary_path = folder.eval_paths(STEERING_STEM)
    write_parquet(table_path, table)
    write_json(summary_path, {"seed": seed, "blend": blend, "pool": pool,
                              "strengths": list(strengths),
                              "density_range": list(density_range), "llm": llm is not None,
                              "cases": [{"set": s, **vars(c)} for s, c in cases],
                              "summary": summary, "targets": checks})
    markdown = (summary_markdown(summary) + "\n\nTargets at the default (issue 12):\n\n"
                + targets_markdown(checks))
    report_path = folder.eval_report_path(STEERING_STEM)
    write_text(report_path, markdown + "\n")
    paths = [table_path, summary_path, report_path]
    if rewrites:
        rewrites_path = folder.eval_rewrites_path(STEERING_STEM)
        write_text(rewrites_path, "".join(json.dumps(r) + "\n" for r in rewrites))
        paths.append(rewrites_path)
    if packets is not None:
        packet, key = build_packet(engine, cases, interpretable, packet_seed, blend=blend,
                                   pool=pool, llm=rewriter)
        paths += write_packet(packets, STEERING_STEM, packet, key, packet_keys)
    return SteeringEvalReport(folder.name, summary, markdown, paths, checks, len(cases))
