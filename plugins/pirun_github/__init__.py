"""pirun plugin: github (work in progress)."""
