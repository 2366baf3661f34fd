"""`pirun init`: a commented `.pirun.yaml` generated from every declared option."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from pirun.config import Option


def _lines(schema: Mapping[str, Any], indent: int) -> list[str]:
    pad = "  " * indent
    out: list[str] = []
    for key, spec in schema.items():
        if isinstance(spec, Mapping):
            out.append(f"{pad}{key}:")
            out += _lines(spec, indent + 1)
            continue
        assert isinstance(spec, Option)
        out.append(f"{pad}# {spec.help}")
        if spec.default is None:
            out.append(f"{pad}# {key}:")
        else:
            value = yaml.safe_dump(spec.default, default_flow_style=True).strip()
            value = value.removesuffix("\n...").strip()
            out.append(f"{pad}{key}: {value}")
    return out


def render_config(schema: Mapping[str, Any]) -> str:
    header = [
        "# pirun configuration. Every key is optional; the values shown are the defaults.",
        "# Reference: docs/configuration.md",
    ]
    return "\n".join(header + _lines(schema, 0)) + "\n"
