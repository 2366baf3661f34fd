"""pirun plugin: markers (work in progress)."""
