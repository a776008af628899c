"""``disentangle map``: compute and cache the feature map the web app shows."""

from __future__ import annotations

import typer

from disentangle import stages
from disentangle.cli.options import (
    DEFAULT_WORKSPACE,
    SaeOption,
    WorkspaceOption,
    writes_workspace,
)
from disentangle.cli.progress import console
from disentangle.workspace import Workspace


@writes_workspace("map")
def feature_map(workspace: WorkspaceOption = DEFAULT_WORKSPACE, sae: SaeOption = None) -> None:
    """Lay out the SAE's features with UMAP, name the clusters, cache it (once per SAE)."""
    ws = Workspace.open(workspace)
    folder = ws.sae(sae)
    with console.status("laying out the features (UMAP; tens of seconds the first time)"):
        result = stages.build_feature_map(ws, folder.name)
    console.print(f"{len(result['x']):,} features in {len(result['clusters'])} clusters; "
                  f"cached in {folder.feature_map_path}")
    for cluster in sorted(result["clusters"], key=lambda c: -c["size"])[:12]:
        console.print(f"  {cluster['size']:5d}  {cluster['name']}")


def register(app: typer.Typer) -> None:
    app.command("map")(feature_map)
