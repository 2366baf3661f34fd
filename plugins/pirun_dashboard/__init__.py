"""`pirun dashboard`: a full-screen live view of every session of the repository.

A plugin, to show that commands too come from plugins (`pirun_register_commands`).
The screen code is imported only when the command runs, so loading pirun for any
other command (or inside every session's exec wrapper) does not pay for it.
"""

# No `from __future__ import annotations`: typer reads the command's annotations
# as objects, and typer itself is imported only when commands are registered.
from typing import TYPE_CHECKING

from pirun.api import hookimpl, runtime_of

if TYPE_CHECKING:
    import typer


@hookimpl
def pirun_register_commands(app: "typer.Typer") -> None:
    import typer

    @app.command()
    def dashboard(ctx: typer.Context) -> None:
        """Full-screen live view of all sessions, with keys to attach, nudge and stop."""
        from pirun_dashboard.view import run_dashboard

        run_dashboard(runtime_of(ctx))
