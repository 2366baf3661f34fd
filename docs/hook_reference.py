"""Print the hook reference of docs/plugins.md from src/pirun/hookspecs.py.

`python docs/hook_reference.py > /tmp/hooks.md`; tests/kernel/test_docs.py checks
that docs/plugins.md holds exactly this text, so the two cannot drift apart.
"""

from __future__ import annotations

import inspect

from pirun import hookspecs

HEADING = "## Hook reference"


def hook_reference() -> str:
    parts = [
        HEADING,
        "",
        "Generated from `src/pirun/hookspecs.py` by `docs/hook_reference.py`.",
        "*firstresult* hooks stop at the first plugin that returns something other than",
        "None; *collecting* hooks call every implementation and get a list of results.",
        "Use `@hookimpl(tryfirst=True)` to override a bundled plugin's answer to a",
        "firstresult hook.",
    ]
    for name, function in sorted(inspect.getmembers(hookspecs, inspect.isfunction)):
        options = getattr(function, "pirun_spec", None)
        if not name.startswith("pirun_") or options is None:
            continue
        kind = "historic" if options.get("historic") else (
            "firstresult" if options.get("firstresult") else "collecting"
        )
        signature = str(inspect.signature(function)).replace("'", "")
        parts += ["", f"### `{name}{signature}`", "", f"*{kind}*", "",
                  inspect.cleandoc(function.__doc__ or "")]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(hook_reference(), end="")
