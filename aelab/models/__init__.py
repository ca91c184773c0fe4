"""The four autoencoders behind one interface, and a registry to build them by kind."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .ae import AE
from .base import REGISTRY, SHARED_OPTIONS, Autoencoder
from .dae import DAE
from .options import Option
from .sae import SAE
from .vae import VAE

KINDS = tuple(REGISTRY)


def build(kind: str, /, **config: Any) -> Autoencoder:
    """Build a model of the given kind from its config (the constructor's arguments)."""
    return model_class(kind)(**config)


def model_class(kind: str) -> type[Autoencoder]:
    """The class registered for ``kind``; ConfigError naming the known kinds otherwise."""
    if not isinstance(kind, str) or kind not in REGISTRY:
        raise ConfigError(f"unknown model kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return REGISTRY[kind]


def all_options() -> dict[str, Option]:
    """Every option of every kind by name, shared ones first (an option's declaration is the same
    wherever it appears)."""
    found: dict[str, Option] = {}
    for cls in REGISTRY.values():
        for option in cls.options:
            found.setdefault(option.name, option)
    return found


__all__ = ["AE", "DAE", "SAE", "VAE", "Autoencoder", "KINDS", "REGISTRY", "SHARED_OPTIONS", "Option", "all_options",
           "build", "model_class"]
