"""The ``disentangle`` command line: one sub-command per stage, plus ``demo``.

Errors a user can fix are printed on one line ("problem; fix") without a traceback, and
leave the workspace as it was (every write is atomic, every long step resumable).
"""

from __future__ import annotations

import sys

import click
import typer
from rich.console import Console
from rich.text import Text

from disentangle.cli import (
    build_commands,
    demo_command,
    eval_commands,
    family_commands,
    interpret_commands,
    search_commands,
    serve_command,
    sweep_commands,
)
from disentangle.errors import DisentangleError

app = typer.Typer(
    name="disentangle",
    help="Sparse autoencoders that make dense text embeddings interpretable and steerable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
build_commands.register(app)
search_commands.register(app)
demo_command.register(app)
interpret_commands.register(app)
sweep_commands.register(app)
family_commands.register(app)
eval_commands.register(app)
serve_command.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (2 for a user-fixable error)."""
    errors = Console(stderr=True)
    try:
        result = app(args=argv, prog_name="disentangle", standalone_mode=False)
    except DisentangleError as error:
        errors.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
        return 2
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        errors.print("interrupted; run the same command again to resume where it stopped")
        return 130
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
