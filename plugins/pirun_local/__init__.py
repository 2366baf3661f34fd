"""pirun plugin: local (work in progress)."""
