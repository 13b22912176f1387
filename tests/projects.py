"""A routes file and a handlers package in a temporary directory, for tests that load them.

The package has a unique name per test, and is dropped from ``sys.modules`` and
``sys.path`` afterwards, so tests never see each other's modules.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service import Application
from service.config.project import load_app
from service.errors import ConfigError


@dataclass
class Project:
    """A routes file and a handlers package ``pkg`` in a temporary directory."""

    root: Path
    pkg: str

    @property
    def routes_file(self) -> Path:
        return self.root / "routes.yaml"

    def module_file(self, module: str) -> str:
        """The file name Python reports for ``pkg.module`` (the routes directory, resolved)."""
        return str(self.root.resolve() / self.pkg / f"{module}.py")

    def write(self, module: str, source: str) -> None:
        (self.root / self.pkg / f"{module}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()

    def routes(self, text: str) -> Path:
        """Write routes.yaml; ``PKG`` in ``text`` stands for the package name."""
        self.routes_file.write_text(textwrap.dedent(text).replace("PKG", self.pkg))
        return self.routes_file

    def issues(self, text: str) -> list[str]:
        """The issue lines ``load_app`` reports for routes ``text``."""
        path = self.routes(text)
        with pytest.raises(ConfigError) as info:
            load_app(path, env={})
        return [str(issue) for issue in info.value.issues]

    def app(self, text: str) -> Application:
        return load_app(self.routes(text), env={})


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    pkg = f"handlers_{uuid.uuid4().hex}"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("")
    importlib.invalidate_caches()
    yield Project(tmp_path, pkg)
    for name in list(sys.modules):
        if name == pkg or name.startswith(pkg + "."):
            del sys.modules[name]
    for entry in {str(tmp_path), str(tmp_path.resolve())}:
        while entry in sys.path:
            sys.path.remove(entry)
