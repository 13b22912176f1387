"""The JSON Schema of routes.yaml: what editors check while the file is typed.

It must agree with the loader: every valid fixture passes both, every invalid
one fails both. The committed ``routes.schema.json`` is the one the command prints.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from serving import REPO, run_service

from service.config.jsonschema import render, routes_schema
from service.config.loader import load_text
from service.errors import ConfigError

ENV = {"PORT": "8080"}


def schema_errors(text: str) -> list[str]:
    """What an editor would flag (the YAML as the editor sees it: ${VAR} not expanded)."""
    validator = Draft7Validator(routes_schema())
    return [e.message for e in validator.iter_errors(yaml.safe_load(text))]


def loader_errors(text: str) -> list[str]:
    try:
        load_text(text, env=ENV)
    except ConfigError as exc:
        return [str(i) for i in exc.issues]
    return []


def test_the_schema_is_a_valid_draft_7_schema() -> None:
    Draft7Validator.check_schema(routes_schema())


def test_the_committed_file_is_what_the_command_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "service", "schema"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert printed == render()
    assert (REPO / "routes.schema.json").read_text(encoding="utf-8") == printed, (
        "routes.schema.json is stale: python -m service schema > routes.schema.json"
    )


def test_the_example_routes_file_names_the_schema_in_its_modeline() -> None:
    first = (REPO / "routes.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./routes.schema.json"


def first_yaml_block(page: str, after: str) -> str:
    """The first ```yaml block after the line ``after`` in ``page`` (README.md, docs/...)."""
    text = (REPO / page).read_text(encoding="utf-8")
    section = text.split(after, 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


VALID = {
    "example": (REPO / "routes.yaml").read_text(encoding="utf-8"),
    "readme": first_yaml_block("README.md", "\n## routes.yaml\n"),
    "docs": first_yaml_block("docs/routes-yaml.md", "# routes.yaml, the reference\n"),
    "short-form": "routes:\n  GET /hello: handlers.hello.hello\n  post /x: m.f\n  '* /any': m:f\n",
    "path-form": (
        "routes:\n  /users/{id:int}:\n    GET: m.get\n    delete: {handler: m.delete, timeout: 500ms}\n"
    ),
    "long-form": (
        "routes:\n  POST /items:\n    handler: m.create\n    body: m.New\n    query: m.Q\n"
        "    response: {201: m.Item, 409: null}\n    tags: [items]\n    deprecated: false\n"
    ),
    "units-and-variables": (
        "service:\n  port: ${PORT:-8080}\n  client_max_size: 1MiB\n  max_header_count: 50\n"
        "  shutdown_timeout: 10s\n  access_log: ${ACCESS_LOG:-false}\n  healthz: null\n"
        "routes:\n  GET /: m.f\n"
    ),
}

INVALID = {
    "misspelled-method": "routes:\n  GTE /users: m.f\n",
    "misspelled-method-in-path-form": "routes:\n  /users:\n    GTE: m.f\n",
    "unknown-route-key": "routes:\n  GET /x: {handler: m.f, handlr: m.g}\n",
    "missing-handler": "routes:\n  GET /x: {name: x}\n",
    "bad-dotted-name": "routes:\n  GET /x: handlers..f\n",
    "bad-model-name": "routes:\n  POST /x: {handler: m.f, body: 'not a name'}\n",
    "unknown-service-key": "service:\n  colour: blue\nroutes:\n  GET /x: m.f\n",
    "bad-size": "service:\n  client_max_size: lots\nroutes:\n  GET /x: m.f\n",
    "bad-port-type": "service:\n  port: [8080]\nroutes:\n  GET /x: m.f\n",
    "unknown-top-level-key": "rotues:\n  GET /x: m.f\n",
    "no-routes": "service:\n  name: x\n",
}


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_a_valid_file_passes_the_loader_and_the_schema(text: str) -> None:
    assert loader_errors(text) == []
    assert schema_errors(text) == []


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_an_invalid_file_fails_the_loader_and_the_schema(text: str) -> None:
    assert loader_errors(text) != []
    assert schema_errors(text) != []


def test_the_committed_schema_is_json_with_sorted_keys() -> None:
    text = (REPO / "routes.schema.json").read_text(encoding="utf-8")
    assert json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n" == text


def test_the_mistakes_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    # docs/routes-yaml.md's "Mistakes are reported" example, checked beside the example's handlers.
    text = (REPO / "docs" / "routes-yaml.md").read_text(encoding="utf-8")
    section = text.split("## Mistakes are reported", 1)[1]
    routes = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    console = re.search(r"```console\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    command, *expected = console.splitlines()
    assert command == "$ service check"
    shutil.copytree(REPO / "handlers", tmp_path / "handlers")
    (tmp_path / "routes.yaml").write_text(routes, encoding="utf-8")
    result = run_service(tmp_path, "check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == expected
