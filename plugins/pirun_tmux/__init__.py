"""pirun plugin: the tmux session backend (`backend: tmux`, the default).

The backend lives in `pirun_tmux.backend` and is imported only when it is chosen:
every session's exec wrapper loads all plugins, and libtmux is the costliest import
among them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

# shutil is imported where it is used: bz2, lzma and zlib come with it, 1.6 MiB
# in every session's exec wrapper, which loads this module and never needs them.
from pirun.api import BackendError, Config, Option, Register, hookimpl

if TYPE_CHECKING:
    from pirun_tmux.backend import TmuxBackend

TMUX_MISSING = "tmux is not installed; install it or set backend: process"


@hookimpl
def pirun_config_options() -> dict[str, dict[str, Option]]:
    return {
        "tmux": {
            "socket_name": Option(
                str, None, "tmux server socket name (tmux -L); default: the user's server."
            ),
            "socket_path": Option(
                str, None, "tmux server socket path (tmux -S); overrides socket_name."
            ),
        }
    }


@hookimpl
def pirun_register_backends(register: Register) -> None:
    register("tmux", tmux_backend)


def tmux_backend(config: Config) -> TmuxBackend:
    import shutil

    binary = shutil.which("tmux")
    if binary is None:
        raise BackendError(TMUX_MISSING)
    socket_name = config.get("tmux.socket_name")
    socket_path = config.get("tmux.socket_path")
    if socket_path is not None:
        # Relative to the repository, like every other path in .pirun.yaml.
        socket_path = str(config.root / Path(socket_path).expanduser())
    from libtmux.server import Server

    from pirun_tmux.backend import TmuxBackend

    return TmuxBackend(Server(socket_name=socket_name, socket_path=socket_path, tmux_bin=binary))
