"""docs/operating.md says what a running service offers: its examples are run here."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml
from serving import ChildProcess, hello_project

from service.testing import TestClient

DOC = (Path(__file__).resolve().parent.parent / "docs" / "operating.md").read_text(encoding="utf-8")
TIMEOUT = 10.0  # bound on every wait; never a timing assertion


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.DOTALL)


def test_the_example_line_has_the_documented_fields() -> None:
    (line,) = [b for b in blocks("json") if '"time"' in b]
    entry = json.loads(line)
    table = DOC.split("| field | what |")[1].split("\n\n")[0]
    documented = {
        name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split(" | ")[0])
    }
    assert set(entry) == documented - {"worker"}  # (the example is of one process)


def test_the_scrape_configuration_scrapes_metrics() -> None:
    (config,) = blocks("yaml")
    job = yaml.safe_load(config)["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"


async def test_every_family_in_the_table_is_served(tmp_path: Path) -> None:
    async with TestClient(hello_project(tmp_path, "opsdoc")) as client:
        await client.get("/hi")
        text = (await client.get("/metrics")).text
    table = DOC.split("| family | type | labels | what |")[1].split("\n\n")[0]
    families = re.findall(r"`([a-z_]+)`", table.split("\n", 2)[2])
    families = [f for f in families if f not in ("method", "route", "status", "result", "success", "failure")]
    assert families
    for family in families:
        assert f"# TYPE {family} " in text, family


def test_the_logging_example_configures_serve(tmp_path: Path) -> None:
    example = next(b for b in blocks("json") if '"version": 1' in b)
    (tmp_path / "logging.json").write_text(example)
    (tmp_path / "routes.yaml").write_text("routes: {}\n")
    argv = [sys.executable, "-m", "service", "serve", "routes.yaml", "--host", "127.0.0.1", "--port", "0"]
    process = ChildProcess([*argv, "--no-reload", "--log-config", "logging.json"], cwd=tmp_path)
    try:
        process.wait_log(r"INFO service\.server: Serving on http://127\.0\.0\.1:\d+", timeout=TIMEOUT)
        assert process.find_log(r"INFO \[worker") is None
        assert process.terminate() == 0
    finally:
        process.kill()
