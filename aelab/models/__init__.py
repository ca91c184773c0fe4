"""The four autoencoders behind one interface, and a registry to build them by kind."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .ae import AE
from .base import REGISTRY, Autoencoder
from .dae import DAE
from .sae import SAE
from .vae import VAE

KINDS = tuple(REGISTRY)


def build(kind: str, /, **config: Any) -> Autoencoder:
    """Build a model of the given kind from its config (the constructor's arguments)."""
    if not isinstance(kind, str) or kind not in REGISTRY:
        raise ConfigError(f"unknown model kind {kind!r}; known kinds: {', '.join(KINDS)}")
    try:
        return REGISTRY[kind](**config)
    except (TypeError, ValueError) as exc:  # an unknown setting, or one of the wrong type
        raise ConfigError(f"bad settings for a {kind} model: {exc}") from None


__all__ = ["AE", "DAE", "SAE", "VAE", "Autoencoder", "KINDS", "REGISTRY", "build"]
