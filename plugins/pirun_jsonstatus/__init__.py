"""pirun plugin: jsonstatus (work in progress)."""
