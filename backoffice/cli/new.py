"""``backoffice new bot NAME --dir DIR``: scaffold a bot distribution of your own (see backoffice.scaffold)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backoffice.cli._common import console, print_json

app = typer.Typer(
    help="Start something new: a bot of your own, outside this repository.", no_args_is_help=True
)


@app.command("bot")
def bot(
    name: Annotated[str, typer.Argument(help="The bot's name: lower case and dashes, e.g. demo-orders.")],
    dir_: Annotated[
        Path,
        typer.Option(
            "--dir", help="Parent directory; the bot is written to DIR/NAME (must be new or empty)."
        ),
    ] = Path("."),
    json_: Annotated[bool, typer.Option("--json", help="Print what was written as JSON.")] = False,
) -> None:
    """Write an installable bot distribution: pyproject.toml with the entry point, the package
    (models, rules, bot), a README with its inputs and rule codes, and tests that pass as written."""
    from backoffice.plugins import registry
    from backoffice.scaffold import bot_names, create_bot

    names = bot_names(name)
    target, files = create_bot(name, dir_, installed=frozenset(registry().names()))
    if json_:
        print_json(
            {"name": name, "package": names.package, "dist": names.dist, "path": str(target), "files": files}
        )
        return
    console.print(f"[green]created the {name} bot[/] in {target} (package {names.package}):", soft_wrap=True)
    for rel in files:
        console.print(f"  {rel}", soft_wrap=True)
    console.print(
        "next:\n"
        f"  cd {target}\n"
        "  pip install -e .          # registers the entry point; `backoffice bots` lists it\n"
        "  pytest                    # its tests, with the backoffice pytest plugin\n"
        f"  backoffice run {name} --help",
        soft_wrap=True,
    )
