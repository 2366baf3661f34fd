"""Choosing a batch from the backlog through the tracker (`pirun batch --label ...`)."""

from __future__ import annotations

from pirun.errors import UsageError
from pirun.model import Selection
from pirun.protocols import SelectingTracker
from pirun.runtime import Runtime


def select_keys(rt: Runtime, selection: Selection) -> list[str]:
    """The keys the tracker selects; a one-line UsageError when it cannot select."""
    tracker = rt.tracker
    if not isinstance(tracker, SelectingTracker):
        raise UsageError(
            f"the {tracker.name} tracker cannot select issues by label, milestone or "
            "query; give the issue keys"
        )
    return list(dict.fromkeys(tracker.select(selection)))
