"""An application's lifecycle as aiohttp runs it: cleanup contexts around the hooks.

``cleanup_ctx`` generators are set up before the ``on_startup`` hooks and torn down,
last first, before the ``on_cleanup`` hooks; only what was set up is torn down;
every teardown runs even when one fails. ``AppKey`` gives app state typed keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from service import Application, Server, web

MakeServer = Callable[..., Awaitable[Server]]


def recording_app(
    events: list[str], *, fail_setup: str | None = None, fail_teardown: str | None = None
) -> Application:
    app = Application()

    def context(name: str) -> Callable[[Application], AsyncIterator[None]]:
        async def ctx(app: Application) -> AsyncIterator[None]:
            events.append(f"setup {name}")
            if name == fail_setup:
                raise RuntimeError(f"{name} cannot start")
            yield
            events.append(f"teardown {name}")
            if name == fail_teardown:
                raise RuntimeError(f"{name} cannot stop")

        return ctx

    async def hook(app: Application) -> None:
        events.append("on_startup")

    async def clean(app: Application) -> None:
        events.append("on_cleanup")

    app.cleanup_ctx.extend([context("db"), context("cache")])
    app.on_startup.append(hook)
    app.on_cleanup.append(clean)
    return app


async def test_contexts_wrap_the_hooks_through_a_real_server(make_server: MakeServer) -> None:
    events: list[str] = []
    server = await make_server(recording_app(events))
    assert events == ["setup db", "setup cache", "on_startup"]
    await server.shutdown()
    assert events[3:] == ["teardown cache", "teardown db", "on_cleanup"]


async def test_a_failed_setup_tears_down_only_what_was_set_up() -> None:
    events: list[str] = []
    app = recording_app(events, fail_setup="cache")
    with pytest.raises(RuntimeError, match="cache cannot start"):
        await app.startup()
    await app.cleanup()
    assert events == ["setup db", "setup cache", "teardown db", "on_cleanup"]


async def test_every_teardown_runs_when_one_fails() -> None:
    events: list[str] = []
    app = recording_app(events, fail_teardown="cache")
    await app.startup()
    with pytest.raises(RuntimeError, match="cache cannot stop"):
        await app.cleanup()
    assert events[-3:] == ["teardown cache", "teardown db", "on_cleanup"]


async def test_a_context_that_yields_twice_is_an_error() -> None:
    async def twice(app: Application) -> AsyncIterator[None]:
        yield
        yield

    app = Application()
    app.cleanup_ctx.append(twice)
    await app.startup()
    with pytest.raises(RuntimeError, match="more than one 'yield'"):
        await app.cleanup()


def test_app_keys_are_typed_and_distinct_from_strings() -> None:
    db = web.AppKey("db", dict)
    other = web.AppKey("db", dict)
    app = Application()
    app[db] = {"pool": 1}
    app["db"] = "a string key"
    assert app[db] == {"pool": 1} and app["db"] == "a string key"
    assert app.get(other) is None  # same name, another key
    assert repr(db) == "<AppKey('db', type=dict)>"
    del app[db]
    assert db not in app
