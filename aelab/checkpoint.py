"""Save and load models as a folder: ``config.json`` beside ``model.safetensors``.

Nothing is ever unpickled: the weights are plain tensors in safetensors, the model is
rebuilt from the JSON config (its constructor's arguments), and a pickle offered as a
model is refused. A save writes a complete new folder next to the target and then
renames it into place, so a crash never leaves a half-written model behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .errors import AelabError, CheckpointError
from .models import Autoencoder, build

FORMAT = "aelab-model"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")
REFUSE_PICKLE = (
    "{path} is a pickle/PyTorch file. aelab never loads pickles, because loading one can run "
    "arbitrary code. Give a model folder with config.json and model.safetensors instead."
)


@dataclass
class Checkpoint:
    """A loaded model with everything its config.json says about it."""

    model: Autoencoder
    info: dict[str, Any]
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def save(model: Autoencoder, directory: str | Path, info: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``directory`` atomically; ``info`` (data, training, metrics) joins the config."""
    target = Path(directory)
    if target.exists() and not _replaceable(target):
        raise CheckpointError(
            f"{target} exists and is not an aelab model folder; refusing to overwrite it. "
            "Choose a new or empty folder."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    identity = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "aelab_version": __version__,
        "kind": model.kind,
        "model": model.config(),
    }  # what the model is: extra info never overrides it
    config = identity | {k: v for k, v in (info or {}).items() if k not in identity}
    weights = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        save_file(weights, str(staging / WEIGHTS_NAME), metadata={"format": FORMAT})
        (staging / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        _fsync_all(staging)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def load(path: str | Path, device: str = "cpu") -> Checkpoint:
    """Load a model folder (or its config.json / model.safetensors), validating everything."""
    folder = _model_folder(Path(path))
    info = read_config(folder)
    try:
        model = build(info["kind"], **info["model"])
    except AelabError as exc:
        raise CheckpointError(f"{folder / CONFIG_NAME}: {exc}") from None
    weights = _read_weights(folder / WEIGHTS_NAME)
    _check_weights(weights, model, folder / WEIGHTS_NAME)
    model.load_state_dict(weights)
    return Checkpoint(model.to(device).eval(), info, folder)


def read_config(folder: Path) -> dict[str, Any]:
    """Read and validate a model folder's config.json (without touching the weights)."""
    config_path = folder / CONFIG_NAME
    try:
        info = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read {config_path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config_path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"{config_path} is not an aelab model config (its 'format' is not {FORMAT!r})")
    missing = [key for key in ("format_version", "kind", "model") if key not in info]
    if missing:
        raise CheckpointError(f"{config_path} lacks the key(s): {', '.join(missing)}")
    version = info["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path} has format_version {info['format_version']!r}; this aelab reads up to "
            f"{FORMAT_VERSION}. Upgrade aelab to load it."
        )
    if not isinstance(info["model"], dict):
        raise CheckpointError(f"{config_path}: 'model' must be an object of settings")
    return info


def _model_folder(path: Path) -> Path:
    """The model folder that ``path`` names, refusing pickles and non-models with a reason."""
    if not path.exists():
        raise CheckpointError(f"{path} does not exist")
    if path.is_file():
        if path.name in (CONFIG_NAME, WEIGHTS_NAME):
            return path.parent
        if path.suffix.lower() in PICKLE_SUFFIXES or _looks_like_pickle(path):
            raise CheckpointError(REFUSE_PICKLE.format(path=path))
        raise CheckpointError(f"{path} is a file, not an aelab model folder ({CONFIG_NAME} + {WEIGHTS_NAME})")
    if not (path / CONFIG_NAME).is_file():
        pickles = [p.name for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES]
        if pickles:
            raise CheckpointError(REFUSE_PICKLE.format(path=path / pickles[0]))
        raise CheckpointError(f"{path} is not an aelab model folder: {CONFIG_NAME} is missing")
    if not (path / WEIGHTS_NAME).is_file():
        raise CheckpointError(f"{path} is not a complete model folder: {WEIGHTS_NAME} is missing")
    return path


def _looks_like_pickle(path: Path) -> bool:
    """True for pickle streams (0x80 protocol byte) and torch.save zip archives.

    A safetensors file starts with its header's length (8 bytes, little-endian) and then
    the JSON header itself, so it is recognised first: its length bytes may be anything.
    """
    with path.open("rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size:
        return False
    return head[:1] == b"\x80" or head[:2] == b"PK"


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if _looks_like_pickle(path):
        raise CheckpointError(REFUSE_PICKLE.format(path=path))
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is damaged or not a safetensors file ({exc})") from None


def _check_weights(weights: dict[str, torch.Tensor], model: Autoencoder, path: Path) -> None:
    """Every tensor the model needs, with the shape it needs, and nothing else."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = [f"missing {k}" for k in expected if k not in weights]
    problems += [f"unexpected {k}" for k in weights if k not in expected]
    problems += [
        f"{k} has shape {tuple(weights[k].shape)}, the config needs {shape}"
        for k, shape in expected.items()
        if k in weights and tuple(weights[k].shape) != shape
    ]
    problems += [f"{k} contains NaN or infinite values" for k, v in weights.items()
                 if v.is_floating_point() and not torch.isfinite(v).all()]
    if problems:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise CheckpointError(f"{path} does not match its config.json: {shown}")


def _replaceable(target: Path) -> bool:
    """An existing target may be replaced only if it is an empty folder or an aelab model."""
    if not target.is_dir():
        return False
    names = {p.name for p in target.iterdir()}
    return not names or names <= {CONFIG_NAME, WEIGHTS_NAME}


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished folder onto ``target``; an old model is moved aside, then removed."""
    if not target.exists():
        os.replace(staging, target)
        return
    retired = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _fsync_all(folder: Path) -> None:
    """Flush the files to disk and give them ordinary permissions (mkdtemp's are 0700)."""
    for file in folder.iterdir():
        with file.open("rb") as f:
            os.fsync(f.fileno())
        file.chmod(0o644)
    folder.chmod(0o755)
