"""``service new DIR``: a working project in one command.

The files come from ``templates/new`` (package data, ``*.tmpl``), each formatted with the
project's name and the line that installs this framework: routes.yaml (with the
editor's schema modeline, and routes.schema.json beside it), handlers for the
common shapes (hello, a typed path parameter, a JSON body with a model), tests
that use the ``service_client`` fixture, requirements.txt, pyproject.toml (pytest's
settings), a Dockerfile, docker-compose.yml, .dockerignore and a README.

Where this framework was installed from (PEP 610's ``direct_url.json``: a local
checkout, a VCS URL, a wheel; or the checkout it runs from) is the requirement
written, since it is known to resolve to this very package -- a package index
may well have another project called "service" -- otherwise its name and version. When it came from a
local directory, a wheel of it is built into ``wheels/`` for the Dockerfile, so
the image builds without reaching that directory.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path
from urllib.parse import unquote, urlparse

from . import __version__
from .config.jsonschema import render as routes_schema_json

__all__ = ["ScaffoldError", "new_project"]

_NAME = re.compile(r"[a-z][a-z0-9-]*")
_RENAMED = {"dockerignore": ".dockerignore"}  # (a dotfile would not travel as package data)


class ScaffoldError(Exception):
    """The project cannot be written (its directory is not empty, its name is not usable)."""


def _source() -> tuple[str, Path | None]:
    """The requirement that installs this framework, and its local directory, if it has one."""
    try:
        direct = metadata.distribution("service").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct = None
    if direct:
        url = json.loads(direct).get("url", "")
        parsed = urlparse(url)
        local = Path(unquote(parsed.path)) if parsed.scheme == "file" else None
        return f"service[uvloop] @ {url}", local if local is not None and local.is_dir() else None
    checkout = Path(__file__).resolve().parent.parent  # run from a checkout (PYTHONPATH)?
    if (checkout / "pyproject.toml").is_file() and (checkout / "service" / "scaffold.py").is_file():
        return f"service[uvloop] @ {checkout.as_uri()}", checkout
    return f"service[uvloop]=={__version__}", None


def _files(root: Traversable, prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            found += _files(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".tmpl"):  # (so that no tool takes a template for code)
            name = entry.name.removesuffix(".tmpl")
            found.append((f"{prefix}{_RENAMED.get(name, name)}", entry.read_text(encoding="utf-8")))
    return found


def new_project(directory: Path, *, wheel: bool = True) -> list[str]:
    """Write the project into ``directory`` (new or empty); the paths written, in order."""
    name = re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-")
    if not _NAME.fullmatch(name):
        raise ScaffoldError(f"{directory.name!r} gives no usable name: start it with a letter")
    if directory.exists() and any(directory.iterdir()):
        raise ScaffoldError(f"{directory} is not empty: nothing was written (name a new directory)")
    requirement, local = _source()
    written: list[str] = []
    template = resources.files("service") / "templates" / "new"
    for relative, text in _files(template):
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.format(name=name, requirement=requirement), encoding="utf-8")
        written.append(relative)
    (directory / "routes.schema.json").write_text(routes_schema_json(), encoding="utf-8")
    written.append("routes.schema.json")
    if wheel and local is not None:
        written.append(_build_wheel(local, directory / "wheels"))
    return written


def _build_wheel(source: Path, into: Path) -> str:
    """A wheel of the framework's checkout, for the Dockerfile (pip builds it)."""
    into.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(into), str(source)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise ScaffoldError(f"building a wheel of {source} failed:\n{done.stderr.strip()}")
    return "wheels/" + next(p.name for p in into.glob("service-*.whl"))
