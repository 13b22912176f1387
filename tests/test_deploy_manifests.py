"""The deployment files, checked offline: Kubernetes overlays render, validate strictly
and pass checkov; the compose and stack files parse.

No cluster runs here, so the Kubernetes manifests are held to what can be checked
without one: `kubectl kustomize` renders each overlay; kubernetes-validate checks
every resource against a recent Kubernetes release's schemas, strictly (an unknown
field fails), and a resource it has no schema for -- which it only warns about --
fails here too; checkov finds nothing that is not skipped with a reason in the
manifest itself. Then the properties the scale-out design rests on are read off
the rendered objects. The negative tests show each checker catching a mistake.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerkit import REPO, require_docker, run

from service.config.loader import load

K8S = REPO / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())
KUBERNETES_VERSION = "1.35.0"  # a recent release; kubernetes-validate ships its schemas
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, f"{name} is not installed (it comes with the test extra)"
    return found


def render(overlay: Path) -> str:
    return run([_tool("kubectl"), "kustomize", str(overlay)], timeout=120).stdout


def validate(manifests: str, tmp_path: Path) -> list[str]:
    """kubernetes-validate's problems with ``manifests``: its errors and its warnings."""
    path = tmp_path / "rendered.yaml"
    path.write_text(manifests)
    command = [_tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(path)]
    result = run(command, check=False, timeout=120)
    problems = [
        line
        for line in result.stdout.splitlines() + result.stderr.splitlines()
        if not line.startswith("INFO")
    ]
    if result.returncode != 0 and not problems:
        problems.append(f"exit {result.returncode}")
    return problems


def objects(manifests: str) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(manifests) if doc}


def test_there_are_overlays() -> None:
    assert {"dev", "production"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_and_validates_strictly(overlay: str, tmp_path: Path) -> None:
    manifests = render(K8S / "overlays" / overlay)
    assert validate(manifests, tmp_path) == []
    kinds = set(objects(manifests))
    expected = {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
    assert expected <= kinds


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (lambda text: text.replace("revisionHistoryLimit:", "revisionHistory:"), "revisionHistory"),
        (lambda text: text.replace("apiVersion: apps/v1", "apiVersion: apps/v9"), "apps/v9"),
    ],
    ids=["unknown field", "unknown apiVersion (only a warning from the tool)"],
)
def test_validation_catches_mistakes(mistake: Any, expected: str, tmp_path: Path) -> None:
    problems = validate(mistake(render(K8S / "overlays" / "production")), tmp_path)
    assert any(expected in problem for problem in problems), problems


def _deployment(overlay: str) -> dict[str, Any]:
    return objects(render(K8S / "overlays" / overlay))["Deployment"]


def _seconds(text: str) -> float:
    return float(text.removesuffix("s"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_deployment_rolls_and_stops_as_the_design_says(overlay: str) -> None:
    deployment = _deployment(overlay)
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"]["cpu"]
    # Grace above the preStop sleep + drain + shutdown, so the server ends on its own.
    drain = _seconds(next(e["value"] for e in container["env"] if e["name"] == "DRAIN_DELAY"))
    shutdown = load(REPO / "routes.yaml").settings.shutdown_timeout
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain + shutdown


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_pod_runs_locked_down(overlay: str) -> None:
    pod = _deployment(overlay)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int)  # numeric: runAsNonRoot can check it
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_routes_come_from_a_configmap_mounted_as_a_directory(overlay: str) -> None:
    rendered = objects(render(K8S / "overlays" / overlay))
    pod = rendered["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert all("subPath" not in mount for mount in container["volumeMounts"])  # subPath never updates
    volume = next(v for v in pod["volumes"] if "configMap" in v)
    assert volume["configMap"]["name"] == rendered["ConfigMap"]["metadata"]["name"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert container["args"][-1] == f"{mount['mountPath']}/routes.yaml"
    assert rendered["ConfigMap"]["data"]["routes.yaml"] == (REPO / "routes.yaml").read_text()


def test_the_base_carries_this_routes_file() -> None:
    """Kustomize reads files only under its own directory, so the base holds a copy."""
    copy = K8S / "base" / "routes.yaml"
    assert copy.read_text() == (REPO / "routes.yaml").read_text(), (
        "deploy/k8s/base/routes.yaml differs from routes.yaml: cp routes.yaml deploy/k8s/base/"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_keys_come_from_a_secret(overlay: str) -> None:
    """routes.yaml's admin policy reads API_KEYS_FILE: a file of a Secret volume. Only dev
    brings the Secret (the demo key); production's is created by its operator."""
    rendered = objects(render(K8S / "overlays" / overlay))
    pod = rendered["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    keys_file = next(e["value"] for e in container["env"] if e["name"] == "API_KEYS_FILE")
    volume = next(v for v in pod["volumes"] if "secret" in v)
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert keys_file.startswith(mount["mountPath"] + "/") and mount["readOnly"] is True
    assert "${API_KEYS_FILE:-" in (REPO / "routes.yaml").read_text()
    secret = rendered.get("Secret")
    if overlay == "dev":
        assert secret is not None and secret["metadata"]["name"] == volume["secret"]["secretName"]
        demo = (REPO / "handlers" / "demo-api-keys.txt").read_bytes()
        assert base64.b64decode(secret["data"][keys_file.rsplit("/", 1)[1]]) == demo
    else:
        assert secret is None and volume["secret"]["secretName"] == "service-api-keys"


def test_the_dev_overlay_carries_the_demo_keys() -> None:
    copy = K8S / "overlays" / "dev" / "demo-api-keys.txt"
    assert copy.read_bytes() == (REPO / "handlers" / "demo-api-keys.txt").read_bytes(), (
        "deploy/k8s/overlays/dev/demo-api-keys.txt differs:"
        " cp handlers/demo-api-keys.txt deploy/k8s/overlays/dev/"
    )


def checkov(directory: Path) -> dict[str, Any]:
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # (it runs kubectl kustomize)
    command = [_tool("checkov"), "-d", str(directory), "--framework", "kustomize", "--output", "json"]
    # --skip-download: nothing is fetched from checkov's vendor (no network in tests)
    result = run([*command, "--skip-download"], env=env, check=False, timeout=600)
    assert result.stdout.strip(), result.stderr
    report = json.loads(result.stdout)
    found: dict[str, Any] = report[0] if isinstance(report, list) else report
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_finds_nothing_unjustified(overlay: str) -> None:
    report = checkov(K8S / "overlays" / overlay)
    failed = report["results"]["failed_checks"]
    assert failed == [], [(c["check_id"], c["check_name"], c["resource"]) for c in failed]
    for skipped in report["results"]["skipped_checks"]:  # each with its reason, in the manifest
        assert len(skipped["check_result"]["suppress_comment"]) > 20, skipped["check_id"]
    assert report["summary"]["passed"] > 50


def test_checkov_catches_a_privileged_container(tmp_path: Path) -> None:
    shutil.copytree(K8S, tmp_path / "k8s")
    deployment = tmp_path / "k8s" / "base" / "deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")
    )
    failed = checkov(tmp_path / "k8s" / "overlays" / "production")["results"]["failed_checks"]
    assert "CKV_K8S_20" in {check["check_id"] for check in failed}


@pytest.mark.docker
def test_the_compose_and_stack_files_parse() -> None:
    require_docker()
    run(["docker-compose", "config", "-q"])
    stack = run(
        ["docker", "stack", "config", "-c", str(REPO / "deploy" / "swarm" / "stack.yml")],
        env={"ROUTES_HASH": "0123456789ab", "STACK": "check"},
    ).stdout
    services = yaml.safe_load(stack)["services"]
    assert services["app"]["deploy"]["endpoint_mode"] == "dnsrr"
    assert services["lb"]["ports"][0]["mode"] == "host"
    missing = subprocess.run(
        ["docker", "stack", "config", "-c", str(REPO / "deploy" / "swarm" / "stack.yml")],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "ROUTES_HASH"},
        timeout=60,
    )
    assert missing.returncode != 0 and "ROUTES_HASH" in missing.stderr  # never a config named "routes-"


def test_the_scaling_page_names_what_exists() -> None:
    """docs/scaling.md's paths exist, its deploy.sh commands are ones the script takes, and
    its kubectl commands name real overlays (the Swarm commands themselves run in test_swarm)."""
    page = (REPO / "docs" / "scaling.md").read_text()
    for path in set(re.findall(r"(?<![\w/])(deploy/[\w./-]+\w)", page)):
        assert (REPO / path).exists(), path
    script = (REPO / "deploy" / "swarm" / "deploy.sh").read_text()
    for verb in set(re.findall(r"deploy/swarm/deploy\.sh (\w+)", page)):
        assert f"\n{verb})" in script, verb
    for overlay in re.findall(r"kubectl apply -k deploy/k8s/overlays/(\w+)", page):
        assert overlay in OVERLAYS
