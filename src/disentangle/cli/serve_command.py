"""``disentangle serve``: the web app over a workspace, on this machine only by default."""

from __future__ import annotations

from typing import Annotated

import typer

from disentangle import stages
from disentangle.cli.options import DEFAULT_WORKSPACE, SaeOption, WorkspaceOption
from disentangle.cli.progress import console
from disentangle.locking import WorkspaceBusy, writer_lock
from disentangle.workspace import Workspace


def serve(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    sae: SaeOption = None,
    host: Annotated[str, typer.Option(
        help="Interface to bind; anything but loopback exposes the app to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Serve search with sliders, feature pages, families and the feature map (read-only).
    On a loopback address only requests naming a loopback host are answered."""
    import uvicorn

    from disentangle.app.server import check_bind_host, create_app, limit_compute_threads

    loopback = check_bind_host(host)
    ws = Workspace.open(workspace)
    try:
        with writer_lock(workspace, "serve: feature map"), console.status(
                "laying out the feature map (once per SAE; cached in the workspace)"):
            stages.build_feature_map(ws, ws.sae(sae).name)
    except WorkspaceBusy as busy:
        console.print(f"[yellow]note:[/] {busy}; the feature map is laid out in memory instead")
    with console.status("loading the workspace"):
        app = create_app(workspace, sae, loopback_only=loopback)
    limit_compute_threads()
    if not loopback:
        console.print(f"[yellow]warning:[/] binding {host} makes the app reachable from "
                      "other machines; it has no authentication")
    shown = f"[{host}]" if ":" in host else host
    console.print(f"serving [bold]{workspace}[/] at [link]http://{shown}:{port}/[/link] "
                  "(Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command()(serve)
