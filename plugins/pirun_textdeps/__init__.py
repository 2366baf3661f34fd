"""pirun plugin: textdeps (work in progress)."""
