"""pirun plugin: agents (work in progress)."""
