"""The example service, fuzzed by schemathesis from its own /openapi.json.

schemathesis reads the document the service publishes and sends requests made
from it: examples at the edges of every schema (coverage), random valid and
invalid ones (fuzzing), and chains that follow the links between operations
(stateful: create an item, then get, replace and delete it). It runs every check
it has, among them: no 5xx; every status, header and body as documented; a
request the schema says is valid is not refused, and one it says is invalid is;
the answers conform to their response schemas. The seed is fixed and the number
of examples bounded, so a run is repeatable and takes well under a few minutes.
A finding fails the test with schemathesis's own report (and a curl line to
replay it); each one fixed has its own regression test beside the code it fixed.

Marked ``fuzz``; ``.ci/run`` runs it with the rest. Longer runs:
``FUZZ_OPENAPI_EXAMPLES=2000 .venv-ci/bin/pytest -m fuzz``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serving import REPO, ServiceProcess, tracked

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("FUZZ_OPENAPI_EXAMPLES", "100"))
SEED = "1"
FUZZ_TIMEOUT = 600.0  # an upper bound for the whole run, not a timing assertion


@pytest.fixture
def serve() -> Iterator[Callable[..., ServiceProcess]]:
    with tracked() as start:
        yield start


def test_schemathesis_finds_nothing_in_the_example_service(
    serve: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    # The admin routes' 5 a minute would leave DELETE's logic untested (schemathesis warns
    # "rate limited"); the 429 itself is pinned by tests/test_policies.py and the README.
    process = serve(REPO / "routes.yaml", "--no-reload", cwd=REPO, env={"ADMIN_RATE": "1000/second"})
    port = process.wait_serving()
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"http://127.0.0.1:{port}/openapi.json",
            "--checks",
            "all",
            "--header",  # the example's demo API key (DELETE /items/{id}); ignored_auth tries without
            "X-API-Key: demo-key",
            "--seed",
            SEED,
            "--max-examples",
            str(EXAMPLES),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # its cache and reports stay out of the repository
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
        timeout=FUZZ_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout, result.stdout[-3000:]
    assert process.terminate() == 0, process.lines
