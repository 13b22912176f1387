"""Whether the service may take traffic: the state ``/readyz`` reports (readiness).

Liveness (``/livez``, and ``/healthz`` as its alias) only says the process answers:
it never looks at anything else, and stays 200 while the service drains, so an
orchestrator does not kill a process that is finishing its work. Readiness says
whether new traffic should come here: not before the startup hooks have finished
and the table is built, and not from the first SIGTERM on (the drain: the server
keeps answering, with ``Connection: close``, for ``drain_delay`` while load
balancers notice, then stops). The ``Server`` owns one ``Readiness`` and hands it
to every application it serves (``Application.readiness``), reloaded ones too.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Readiness"]


@dataclass(slots=True)
class Readiness:
    started: bool = False  # the startup hooks have finished; the server accepts
    draining: bool = False  # a SIGTERM came: finish, take no new traffic

    @property
    def ready(self) -> bool:
        return self.started and not self.draining

    @property
    def state(self) -> str:
        return "draining" if self.draining else "ready" if self.started else "starting"
