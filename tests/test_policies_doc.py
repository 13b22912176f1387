"""docs/policies.md: every routes.yaml example in it loads (whole files as they are,
fragments inside a route), and the effective policies it shows are what 'service
routes' computes."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from service.config.loader import load_text
from service.config.policies import describe

PAGE = (Path(__file__).resolve().parent.parent / "docs" / "policies.md").read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", PAGE, re.DOTALL)


def as_file(block: str) -> str:
    """A block as a whole routes file: itself, or a fragment placed where it belongs."""
    if re.search(r"^routes:", block, re.MULTILINE):
        return block
    if block.startswith("policies:"):  # a group: used by a route
        name = re.search(r"^  (\w+):", block, re.MULTILINE)
        assert name is not None
        return f"{block}routes:\n  GET /x: {{handler: m.x, use: [{name[1]}]}}\n"
    return "routes:\n  GET /x:\n    handler: m.x\n" + textwrap.indent(block, "    ")


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("block", BLOCKS, ids=[b.splitlines()[0][:40] for b in BLOCKS])
def test_each_example_loads(block: str) -> None:
    routes = load_text(as_file(block)).routes
    assert routes and all(describe(route.policy) for route in routes)  # each sets some policy


def test_the_effective_policies_shown_are_computed() -> None:
    first = load_text(BLOCKS[0])
    shown = re.search(r"the POLICIES column of `POST /items` above reads\n\n    (.+)\n", PAGE)
    assert shown is not None
    (items,) = [r for r in first.routes if r.path == "/items"]
    assert describe(items.policy) == shown[1]
