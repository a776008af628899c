"""Rich progress bars with throughput and ETA, handed to the pipeline as plain callbacks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def _rate_column() -> TextColumn:
    return TextColumn("{task.fields[rate]}", style="cyan")


@contextmanager
def progress_bar(description: str, unit: str = "docs") -> Iterator[Callable[[int, int], None]]:
    """Yield ``update(done, total)``; the bar shows done/total, items per second and ETA."""
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TaskProgressColumn(), _rate_column(), TimeElapsedColumn(), TextColumn("eta"),
        TimeRemainingColumn(), console=console, transient=False,
    ) as progress:
        task = progress.add_task(description, total=None, rate="")

        def update(done: int, total: int) -> None:
            speed = progress.tasks[task].speed
            rate = f"{speed:,.0f} {unit}/s" if speed else ""
            progress.update(task, completed=done, total=total, rate=rate)

        try:
            yield update
        except BaseException:
            progress.live.transient = True  # a failure leaves its one line, not a stale bar
            raise
