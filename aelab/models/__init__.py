"""The four autoencoders behind one interface, and a registry to build them by kind."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import torch

from ..errors import ConfigError
from ..i18n import _
from .ae import AE
from .base import ALL_MODELS, REGISTRY, SHARED_OPTIONS, Autoencoder, Model
from .dae import DAE
from .judge import Judge
from .options import Option
from .sae import SAE
from .vae import VAE

# Every module in this folder is imported, so a new kind registers itself: adding one is adding its file.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
KINDS = tuple(REGISTRY)


def build(kind: str, /, **config: Any) -> Autoencoder:
    """Build a model of the given kind from its config (the constructor's arguments)."""
    return model_class(kind)(**config)


MAX_PARAMETERS = 20_000_000  # per model, server-wide: 80 MB of weights, about 320 MB while Adam trains it


def parameter_count(kind: str, /, **config: Any) -> int:
    """How many weights a model with this config has, counted without allocating any (on torch's meta device)."""
    with torch.device("meta"):
        return sum(p.numel() for p in model_class(kind)(**config).parameters())


def check_size(kind: str, /, **config: Any) -> int:
    """The parameter count, or ConfigError when it is over :data:`MAX_PARAMETERS`."""
    count = parameter_count(kind, **config)
    if count > MAX_PARAMETERS:
        raise ConfigError(_("this {kind} model would have {count:,.1f} million parameters; models are limited "
                            "to {limit:g} million (use fewer or narrower hidden layers, or a smaller latent size)",
                            kind=kind, count=count / 1e6, limit=MAX_PARAMETERS / 1e6))
    return count


def model_class(kind: str) -> type[Autoencoder]:
    """The class registered for ``kind``; ConfigError naming the known kinds otherwise."""
    if not isinstance(kind, str) or kind not in REGISTRY:
        raise ConfigError(_("unknown model kind {kind!r}; known kinds: {known}", kind=kind, known=", ".join(KINDS)))
    return REGISTRY[kind]


def build_any(kind: str, /, **config: Any) -> Model:
    """Build any model a checkpoint can hold (an autoencoder, or the judge classifier) from its config."""
    if not isinstance(kind, str) or kind not in ALL_MODELS:
        raise ConfigError(_("unknown model kind {kind!r}; known kinds: {known}", kind=kind, known=", ".join(KINDS)))
    return ALL_MODELS[kind](**config)


def all_options() -> dict[str, Option]:
    """Every option of every kind by name, shared ones first (an option's declaration is the same
    wherever it appears)."""
    found: dict[str, Option] = {}
    for cls in REGISTRY.values():
        for option in cls.options:
            found.setdefault(option.name, option)
    return found


__all__ = ["AE", "ALL_MODELS", "DAE", "KINDS", "MAX_PARAMETERS", "REGISTRY", "SAE", "SHARED_OPTIONS", "VAE",
           "Autoencoder", "ConfigError", "Judge", "Model", "Option", "all_options", "build", "build_any", "check_size",
           "model_class", "parameter_count"]
