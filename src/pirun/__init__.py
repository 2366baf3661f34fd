"""pirun: run a coding agent on every issue of a backlog, in parallel."""

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations, used by bundled and third-party plugins alike.
hookimpl = pluggy.HookimplMarker("pirun")

__all__ = ["__version__", "hookimpl"]
