"""The ``disentangle`` command line: one sub-command per stage, plus ``demo``.

Errors a user can fix are printed on one line ("problem; fix") without a traceback, and
leave the workspace as it was (every write is atomic, every long step resumable).
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.text import Text
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from disentangle.cli import (
    build_commands,
    demo_command,
    eval_commands,
    family_commands,
    interpret_commands,
    map_command,
    search_commands,
    serve_command,
    sweep_commands,
)
from disentangle.errors import DisentangleError

INTERRUPTED = 130  # 128 + SIGINT, the shell's code for a Ctrl+C

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
map_command.register(app)
serve_command.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (2 for a user-fixable error)."""
    errors = Console(stderr=True)
    try:
        result = app(args=argv, prog_name="disentangle", standalone_mode=False)
    except DisentangleError as error:
        errors.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
        return 2
    except NoArgsIsHelpError as error:
        error.show()
        return 2
    except ClickException as error:
        errors.print(Text.assemble(("error: ", "bold red"), usage_message(error)),
                     soft_wrap=True)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        result = INTERRUPTED
    if result == INTERRUPTED:  # typer turns Ctrl+C into this exit code
        errors.print("interrupted; run the same command again to resume where it stopped")
    return result if isinstance(result, int) else 0


def usage_message(error: ClickException) -> str:
    """A usage error as one line: what was wrong, then where the command's help is.
    (typer vendors its own click, so these are ``typer._click`` exceptions, not click's.)"""
    message = " ".join(error.format_message().split()).rstrip(".")
    context = error.ctx if isinstance(error, UsageError) else None
    command = context.command_path if context is not None else "disentangle"
    return f"{message}; see `{command} --help`"


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
