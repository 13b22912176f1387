"""Scale-out on a real Docker Swarm: deploy/swarm's stack, rolled under load, zero failures.

A single-node swarm on 127.0.0.1 (made here, and left at the end, unless one was
already there) runs deploy/swarm/stack.yml through deploy/swarm/deploy.sh, as a
user would: three app replicas behind HAProxy. While 8 keep-alive clients send
GET and POST requests to 127.0.0.1:LB_PORT, the test rolls out a new image, a
changed routes.yaml (a new hashed config) and a broken image (which Swarm rolls
back); each must pass with no failed request. A negative control runs the same
load against replicas that die at once on stop behind an LB without retries,
and must see failures: the test can fail. Bounded: every wait has a deadline.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from dockerkit import REPO, free_port, require_docker, run
from loadgen import Load, LoadResult

pytestmark = pytest.mark.swarm

SWARM = REPO / "deploy" / "swarm"
ROLLOUT_LIMIT = 240.0  # seconds a rollout (or rollback) may take here
SETTLE = 3.0  # seconds of load before and after each rollout


@dataclass
class Stack:
    name: str
    port: int
    env: dict[str, str]
    routes: Path  # its routes.yaml (a copy: the test changes it)
    stack_file: Path | None = None  # None: deploy.sh deploys deploy/swarm/stack.yml

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def deploy(self, **env: str) -> None:
        self.env.update(env)
        if self.stack_file is None:
            run([str(SWARM / "deploy.sh"), "up"], env=self.env, timeout=600)
            return
        # Another stack file, deployed as deploy.sh deploys its own.
        hashed = hashlib.sha256(self.routes.read_bytes()).hexdigest()[:12]
        command = ["docker", "stack", "deploy", "--resolve-image", "never", "-c", str(self.stack_file)]
        run([*command, self.name], env={**self.env, "ROUTES_HASH": hashed}, timeout=600)

    def service(self, name: str) -> str:
        return f"{self.name}_{name}"


def _swarm_state() -> str:
    return run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]).stdout.strip()


@pytest.fixture(scope="module")
def swarm() -> Iterator[None]:
    require_docker()
    made = _swarm_state() != "active"
    if made:
        run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"])
    try:
        yield
    finally:
        if made:
            run(["docker", "swarm", "leave", "--force"], check=False)


def _build(tag: str, dockerfile: str | None = None, context: Path = REPO) -> str:
    """Build ``context`` (or ``dockerfile``'s text, with no context) as ``tag``."""
    if dockerfile is None:
        run(["docker", "build", "-q", "-t", tag, str(context)], timeout=900)
    else:
        run(["docker", "build", "-q", "-t", tag, "-"], stdin=dockerfile, timeout=900)
    return tag


@pytest.fixture(scope="module")
def images(swarm: None) -> Iterator[dict[str, str]]:
    """The app as it is, a second build of it, a broken one (listens where no check looks), the LB."""
    tag = uuid.uuid4().hex[:8]
    app = _build(f"service-example:t{tag}-v1")
    built = {
        "v1": app,
        "v2": _build(f"service-example:t{tag}-v2", f"FROM {app}\nLABEL service.test.revision=2\n"),
        "broken": _build(f"service-example:t{tag}-broken", f"FROM {app}\nENV PORT=9999\n"),
        "lb": _build(f"service-lb:t{tag}", context=SWARM / "lb"),
    }
    try:
        yield built
    finally:
        run(["docker", "image", "rm", "-f", *built.values()], check=False)


def _remove(stack: str) -> None:
    run(["docker", "stack", "rm", stack], check=False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # its network goes last; the next stack may want the name
        if not run(
            ["docker", "network", "ls", "-q", "-f", f"label=com.docker.stack.namespace={stack}"]
        ).stdout:
            return
        time.sleep(1)


@pytest.fixture(scope="module")
def stack(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    routes = tmp_path_factory.mktemp("swarm") / "routes.yaml"
    shutil.copy(REPO / "routes.yaml", routes)
    name = f"svct{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = {
        "STACK": name,
        "LB_PORT": str(port),
        "ROUTES_FILE": str(routes),
        "APP_IMAGE": images["v1"],
        "LB_IMAGE": images["lb"],
    }
    deployed = Stack(name, port, env, routes)
    try:
        deployed.deploy()
        _wait_converged(deployed.service("app"), 3)
        _wait_answers(deployed.url)
        yield deployed
    finally:
        _remove(name)


def _inspect(service: str, fmt: str) -> str:
    return run(["docker", "service", "inspect", "--format", fmt, service]).stdout.strip()


def _running(service: str) -> int:
    tasks = run(["docker", "service", "ps", "-q", "-f", "desired-state=running", service]).stdout.split()
    states = [run(["docker", "inspect", "--format", "{{.Status.State}}", t]).stdout.strip() for t in tasks]
    return states.count("running")


def _wait_converged(service: str, replicas: int) -> None:
    deadline = time.monotonic() + ROLLOUT_LIMIT
    while time.monotonic() < deadline:
        if _running(service) == replicas:
            return
        time.sleep(1)
    pytest.fail(f"{service}: not {replicas} running tasks after {ROLLOUT_LIMIT:.0f}s\n{_tasks(service)}")


def _containers(service: str) -> list[str]:
    label = f"label=com.docker.swarm.service.name={service}"
    return run(["docker", "ps", "-q", "-f", label]).stdout.split()


def _tasks(service: str) -> str:
    return run(["docker", "service", "ps", "--no-trunc", service], check=False).stdout


def _wait_answers(url: str) -> None:
    """Until the LB answers through a replica (it resolves and checks them every second)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"nothing answers at {url}")


def _update_state(service: str) -> tuple[str, str]:
    """(state, started at) of the service's last update; ("", "") before any."""
    found = _inspect(
        service, "{{if .UpdateStatus}}{{.UpdateStatus.State}} {{.UpdateStatus.StartedAt}}{{end}}"
    )
    state, _, started = found.partition(" ")
    return state, started


def _rolled(stack: Stack, done: tuple[str, ...], **env: str) -> tuple[LoadResult, str]:
    """Under load: deploy with ``env``, wait for the update to end in one of ``done``."""
    service = stack.service("app")
    before = _update_state(service)
    with Load(stack.url) as load:
        time.sleep(SETTLE)
        stack.deploy(**env)
        deadline = time.monotonic() + ROLLOUT_LIMIT
        state = ""
        while time.monotonic() < deadline:
            current = _update_state(service)
            state = current[0]
            if current != before and state in done:
                break
            time.sleep(1)
        else:
            pytest.fail(f"update not over after {ROLLOUT_LIMIT:.0f}s (state {state!r})\n{_tasks(service)}")
        _wait_converged(service, 3)
        time.sleep(SETTLE)
    return load.result, state


def test_tasks_app_resolves_to_every_replica_inside_the_lb(stack: Stack) -> None:
    container = _containers(stack.service("lb"))[0]
    probe = "import socket, json; print(json.dumps(socket.gethostbyname_ex('tasks.app')[2]))"
    addresses = json.loads(run(["docker", "exec", container, "python", "-c", probe]).stdout)
    assert len(set(addresses)) == 3, addresses


def test_an_image_rollout_fails_no_request(stack: Stack, images: dict[str, str]) -> None:
    result, state = _rolled(stack, ("completed",), APP_IMAGE=images["v2"])
    print(f"image rollout: {result.summary()}")
    assert state == "completed"
    assert result.failures == 0, result.summary()
    assert len(result.instances) >= 6, result.summary()  # the three old replicas and the three new


def test_a_routes_change_rolls_out_as_a_new_config(stack: Stack) -> None:
    text = stack.routes.read_text()
    stack.routes.write_text(
        text.replace("routes:\n", "routes:\n  GET /hello-again: handlers.hello.hello\n", 1)
    )
    assert httpx.get(f"{stack.url}/hello-again", timeout=10).status_code == 404
    result, state = _rolled(stack, ("completed",))
    print(f"routes.yaml rollout: {result.summary()}")
    assert state == "completed"
    assert result.failures == 0, result.summary()
    configs = _inspect(
        stack.service("app"), "{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}}{{end}}"
    )
    hashed = hashlib.sha256(stack.routes.read_bytes()).hexdigest()[:12]
    assert configs == f"{stack.name}_routes-{hashed}"  # the new file's own config
    for _ in range(6):  # every replica has it (round robin over three)
        assert httpx.get(f"{stack.url}/hello-again", timeout=10).status_code == 200


def test_a_broken_image_is_rolled_back(stack: Stack, images: dict[str, str]) -> None:
    good = _inspect(stack.service("app"), "{{.Spec.TaskTemplate.ContainerSpec.Image}}")
    result, state = _rolled(stack, ("rollback_completed", "paused"), APP_IMAGE=images["broken"])
    print(f"broken image, rolled back: {result.summary()}")
    assert state == "rollback_completed", _tasks(stack.service("app"))
    assert result.failures == 0, result.summary()
    assert _inspect(stack.service("app"), "{{.Spec.TaskTemplate.ContainerSpec.Image}}") == good


@pytest.fixture
def fragile(images: dict[str, str], stack: Stack, tmp_path: Path) -> Iterator[Stack]:
    """The same stack, but replicas die at once when stopped (SIGKILL, no drain) and the LB
    neither retries nor checks: what the real stack's drain, checks and retries prevent."""
    spec = yaml.safe_load((SWARM / "stack.yml").read_text())
    app = spec["services"]["app"]
    app["environment"]["DRAIN_DELAY"] = "0s"
    app["stop_signal"] = "SIGKILL"
    app["stop_grace_period"] = "0s"
    # No retries, and no health checks either: a dead replica leaves the LB only when
    # DNS stops naming it, so what each kill cuts off surely shows in the load.
    cfg = (SWARM / "lb" / "haproxy.cfg").read_text().splitlines()
    dropped = ("retries", "option redispatch", "retry-on", "option http-buffer-request", "option httpchk")
    lines = [
        line.replace(" check ", " ") for line in cfg if not line.strip().startswith((*dropped, "http-check"))
    ]
    lines.insert(lines.index("defaults") + 1, "    retries 0")
    (tmp_path / "haproxy.cfg").write_text("\n".join(lines) + "\n")
    name = f"{stack.name}f"
    lb_config = {"source": "haproxy", "target": "/usr/local/etc/haproxy/haproxy.cfg"}
    spec["services"]["lb"]["configs"] = [lb_config]
    spec["configs"]["haproxy"] = {"name": f"{name}_haproxy", "file": str(tmp_path / "haproxy.cfg")}
    spec["configs"]["routes"]["file"] = str(REPO / "routes.yaml")
    (tmp_path / "stack.yml").write_text(yaml.safe_dump(spec))
    port = free_port()
    env = {**stack.env, "STACK": name, "LB_PORT": str(port)}
    fragile = Stack(name, port, env, REPO / "routes.yaml", tmp_path / "stack.yml")
    try:
        fragile.deploy(APP_IMAGE=images["v1"])
        _wait_converged(fragile.service("app"), 3)
        _wait_answers(fragile.url)
        yield fragile
    finally:
        _remove(name)


def test_negative_control_replicas_dying_behind_an_lb_without_retries_fail_requests(
    fragile: Stack,
) -> None:
    """Each replica killed at once, in turn, under the same load: requests must fail here.

    (A rolling update alone is not enough to show it: Swarm takes a task out of DNS
    before it stops it, so even replicas that exit at once lose only what is in
    flight -- 0 or 1 request of some 16,000 when tried. A replica that dies is still
    in DNS, and with no check and no retry the LB goes on sending to it.)
    """
    service = fragile.service("app")
    with Load(fragile.url) as load:
        time.sleep(SETTLE)
        for task in run(
            ["docker", "ps", "-q", "-f", f"label=com.docker.swarm.service.name={service}"]
        ).stdout.split():
            run(["docker", "kill", task])
            time.sleep(SETTLE)
        _wait_converged(service, 3)
        time.sleep(SETTLE)
    print(f"negative control: {load.result.summary()}")
    assert load.result.failures > 0, (
        f"the control saw no failure: the test could not tell ({load.result.summary()})"
    )
