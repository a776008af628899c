"""Options shared by several commands, defined once."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import pyarrow as pa
import typer

from disentangle.errors import DisentangleError
from disentangle.locking import writer_lock
from disentangle.sae.model import ARCHITECTURES
from disentangle.sae.sweep import parse_sizes
from disentangle.sae.trainer import TrainConfig

TRAIN = TrainConfig()
"""The training defaults every command shows: read from the config, never re-typed."""

Command = TypeVar("Command", bound=Callable[..., Any])

DEFAULT_WORKSPACE = Path(os.environ.get("DISENTANGLE_WORKSPACE", "ws"))

WorkspaceOption = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace directory (env DISENTANGLE_WORKSPACE).")
]
SaeOption = Annotated[
    str | None, typer.Option("--sae", help="SAE name in the workspace (default: the latest).")
]
ArchOption = Annotated[str, typer.Option(
    "--arch", help=f"SAE architecture: {', '.join(ARCHITECTURES)} (topk is the paper's).")]
EpochsOption = Annotated[int, typer.Option(help="Passes over the training split.")]
BatchSizeOption = Annotated[int, typer.Option(help="Batch size.")]
LrOption = Annotated[float, typer.Option(help="Adam learning rate.")]
SeedOption = Annotated[int, typer.Option(help="Random seed (training is deterministic on CPU).")]
ValFractionOption = Annotated[float, typer.Option(help="Held-out validation fraction.")]
GradClipOption = Annotated[float, typer.Option(help="Gradient-norm clip.")]
AuxKOption = Annotated[int | None, typer.Option(
    help="Latents the AuxK loss may use on dead latents (default 2k).")]
AuxCoefOption = Annotated[float, typer.Option(help="Weight of the AuxK loss (0: off).")]
DeadStepsOption = Annotated[int | None, typer.Option(
    help="Steps without firing after which a latent counts as dead (default: one epoch).")]
DeviceOption = Annotated[str, typer.Option(help="cpu or cuda.")]
EngineOption = Annotated[str, typer.Option(
    help="local (in this process) or ray (a Ray Data pipeline; needs pip install -e '.[ray]').")]
AddressOption = Annotated[str | None, typer.Option(
    help="ray: the cluster, 'auto' (a running one) or 'ray://host:10001'; default: start a "
         "local one.")]
CpusPerActorOption = Annotated[int, typer.Option(
    help="ray: CPUs per actor where the cluster has no GPU (one actor per GPU otherwise).")]
PrefixesOption = Annotated[str | None, typer.Option(
    help="matryoshka: nested dictionary sizes, e.g. '192,768,3072' or '1d,4d' (n is always "
         "the last; default n/16,n/4,n).")]


def writes_workspace(name: str, create: bool = False) -> Callable[[Command], Command]:
    """Run a command that writes its ``--workspace`` under the workspace's writer lock, so a
    second writer is refused with a one-line message instead of interleaving files."""

    def wrap(command: Command) -> Command:
        @functools.wraps(command)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with writer_lock(kwargs.get("workspace", DEFAULT_WORKSPACE), name, create=create):
                return command(*args, **kwargs)

        return locked  # type: ignore[return-value]

    return wrap


def parse_prefixes(text: str | None, d: int) -> tuple[int, ...] | None:
    """``--prefixes`` as sizes (integers or multiples of d), or None for the default."""
    return tuple(parse_sizes(text, d)) if text else None


def split_list(text: str | None) -> tuple[str, ...]:
    """``"astro-ph, cs.LG"`` → ``("astro-ph", "cs.LG")``."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def top_rows(table: pa.Table, column: str, choices: tuple[str, ...], limit: int,
             ascending_column: str) -> pa.Table:
    """The ``limit`` rows with the largest ``column`` (missing values last); the id column
    ``ascending_column`` sorts ascending instead. Unknown columns are a one-line error."""
    if column not in choices:
        raise DisentangleError(f"cannot sort by {column!r}; use one of {', '.join(choices)}")
    values = np.nan_to_num(table.column(column).to_numpy(zero_copy_only=False).astype(float),
                           nan=-np.inf)
    order = np.argsort(values if column == ascending_column else -values, kind="stable")
    return table.take(pa.array(order[:limit]))
