"""pirun plugin: process (work in progress)."""
