"""The providers, by the name a topology gives them (`provider:`), behind one interface
(lab/providers/base.py). Everything outside this package asks `of(state)` or `get(name)`
for the provider and calls it; nothing else tests a provider's name."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from lab.errors import UserError
from lab.naming import PROVIDERS

if TYPE_CHECKING:
    from lab.providers.base import Provider
    from lab.state.store import LabState

# name -> "module:Class", imported on first use (docker and paramiko load only when needed)
REGISTRY = {
    "netns": "lab.providers.netns:NetnsProvider",
    "docker": "lab.providers.docker:DockerProvider",
    "ssh": "lab.providers.ssh.provider:SshProvider",
}
assert tuple(REGISTRY) == PROVIDERS, "lab.naming.PROVIDERS and REGISTRY name the same ones"

_made: dict[str, Provider] = {}


def get(name: str) -> Provider:
    """The provider called `name`; an unknown one is a UserError listing those there are."""
    if name not in _made:
        if name not in REGISTRY:
            raise UserError(f"provider '{name}' is not known; use {', '.join(PROVIDERS)}")
        module, _, cls = REGISTRY[name].partition(":")
        _made[name] = getattr(import_module(module), cls)()
    return _made[name]


def of(state: LabState) -> Provider:
    """The provider a lab runs on."""
    return get(state.provider)
