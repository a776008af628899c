"""Options shared by several commands, defined once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_WORKSPACE = Path(os.environ.get("DISENTANGLE_WORKSPACE", "ws"))

WorkspaceOption = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace directory (env DISENTANGLE_WORKSPACE).")
]
SaeOption = Annotated[
    str | None, typer.Option("--sae", help="SAE name in the workspace (default: the latest).")
]


def split_list(text: str | None) -> tuple[str, ...]:
    """``"astro-ph, cs.LG"`` → ``("astro-ph", "cs.LG")``."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())
