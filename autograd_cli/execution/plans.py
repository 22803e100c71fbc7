"""What the parent knows about a backend without importing its framework.

Why its own module: deciding whether a backend can run at all (registered, installed,
which dtypes and devices) must cost no framework import; a pool asks once per backend
and keeps the answer, a plan to run or a refusal that becomes the backend's row.
"""

from __future__ import annotations

from dataclasses import dataclass

from autograd_cli import backends as registry
from autograd_cli.core.model import BackendResult, Request
from autograd_cli.core.statuses import RunStatus
from autograd_cli.execution import worker


@dataclass(frozen=True)
class Plan:
    """A backend that can run, with what the parent can know without its framework."""

    name: str
    target: str
    method: str
    version: str | None
    isolated: bool
    dtypes: tuple[str, ...]
    devices: tuple[str, ...] = ("cpu",)

    def device(self, request: Request) -> str:
        """Where it computes for ``request``: the CPU when it has no other device."""
        return request.device if request.device in self.devices else "cpu"


@dataclass(frozen=True)
class Refusal:
    """Why a backend cannot run at all; a pool keeps it for its whole life."""

    status: RunStatus
    reason: str
    method: str = ""
    version: str | None = None

    def row(self, name: str, dtype: str, device: str = "cpu") -> BackendResult:
        return BackendResult(name, self.status, dtype, self.method, self.version,
                             reason=self.reason, device=device)


def inspect(name: str) -> Plan | Refusal:
    target = registry.REGISTRY.get(name)
    if target is None:
        return Refusal("unavailable", f"unknown backend {name!r}")
    try:
        cls = registry.backend_class(name)
        installed = cls.is_installed()
    except ImportError as exc:
        return Refusal("unavailable", str(exc))
    except Exception as exc:
        return Refusal("error", worker.one_line(exc))
    try:
        version = cls.version()
    except Exception:
        version = None
    method = cls.method
    if not installed:
        reason = f"{cls.module} is not installed"
        if cls.install_hint:
            reason += f" ({cls.install_hint})"
        return Refusal("unavailable", reason, method, version)
    isolated = bool(getattr(cls, "isolated", True))
    return Plan(name, target, method, version, isolated, tuple(cls.dtypes),
                tuple(getattr(cls, "devices", ("cpu",))))
