"""Save and load models as a folder: ``config.json`` beside ``model.safetensors``.

Nothing is ever unpickled: the weights are plain tensors in safetensors, the model is
rebuilt from the JSON config (its constructor's arguments), and a pickle offered as a
model is refused. A save writes a complete new folder next to the target and then
renames it into place, so a crash never leaves a half-written model behind (on Linux an
existing model is exchanged for the new one in one step). Models move in and out of the
app as a zip of the two files (`export_zip`, `import_model`); an upload is untrusted, so
it is bounded, checked and loaded in a temporary folder first.

Every reader here (`load`, `read_config`, `import_model`) raises CheckpointError and
nothing else: its specific messages, and under them `aelab._files.reader_boundary` for
whatever a library raises (MemoryError and RecursionError included).

Leftovers of interrupted saves (hidden ``.NAME.tmp-*`` / ``.NAME.old-*`` folders beside a
model) are removed by `save` and `import_model` for the model they write, once they are
older than `aelab._files.LEFTOVER_AGE_S`; a folder of models is swept whole with
``aelab._files.clean_leftovers(folder)``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from ._files import (
    MiB,
    check_readable,
    clean_leftovers,
    copy_member,
    human_size,
    open_zip,
    reader_boundary,
    scrub,
    staged_folder,
    zip_members,
)
from .errors import AelabError, CheckpointError
from .models import ALL_MODELS, REGISTRY, Model, build_any

FORMAT = "aelab-model"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")
REFUSE_PICKLE = (
    "{path} is a pickle/PyTorch file. aelab never loads pickles, because loading one can run "
    "arbitrary code. Give a model folder with config.json and model.safetensors instead."
)
MAX_UPLOAD_BYTES = 200 * MiB
MAX_CONFIG_BYTES = MiB  # a config.json is a few kilobytes
MAX_DESCRIPTION_CHARS = 2000  # a model's description is a line or two; longer ones are refused, not cut
_UPLOAD_HOW_TO = f"Upload the zip that aelab's download gives (it holds {CONFIG_NAME} and {WEIGHTS_NAME})."
_MAX_ZIP_ENTRIES = 1000  # a model zip holds two files, plus what an archiver adds beside them
_FOLDER_HOW_TO = f"Give a model folder that aelab saved ({CONFIG_NAME} and {WEIGHTS_NAME})."
_JSON_TYPES = {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number",
               bool: "true or false", type(None): "null"}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so one model always exports to the same bytes


@dataclass
class Checkpoint:
    """A loaded model with everything its config.json says about it."""

    model: Model
    info: dict[str, Any]
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def save(model: Model, directory: str | Path, info: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``directory`` atomically; ``info`` (data, training, metrics) joins the config."""
    target = Path(directory)
    _check_description((info or {}).get("description"), "the description")
    if target.exists() and not _replaceable(target):
        raise CheckpointError(
            f"{target} exists and is not an aelab model folder; refusing to overwrite it. "
            "Choose a new or empty folder."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target.parent, name=target.name)  # of saves of this model that were interrupted
    identity = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "aelab_version": __version__,
        "kind": model.kind,
        "model": model.config(),
    }  # what the model is: extra info never overrides it
    config = identity | {k: v for k, v in (info or {}).items() if k not in identity}
    weights = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with staged_folder(target, replace=True) as staging:
        save_file(weights, str(staging / WEIGHTS_NAME), metadata={"format": FORMAT})
        (staging / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    return target


@reader_boundary(CheckpointError, lambda path, *args, **kwargs: f"The model {path}", _FOLDER_HOW_TO)
def load(path: str | Path, device: str = "cpu", *, any_kind: bool = False) -> Checkpoint:
    """Load a model folder (or its config.json / model.safetensors), validating everything.

    Only autoencoders, unless ``any_kind`` (the judge classifier is saved the same way).
    Weights must be float32, as aelab saves them (other types are refused, not converted).
    Any problem is a CheckpointError naming the file.
    """
    folder = _model_folder(Path(path))
    info = read_config(folder)
    if not any_kind and isinstance(info["kind"], str) and info["kind"] in ALL_MODELS and info["kind"] not in REGISTRY:
        raise CheckpointError(f"{folder} holds a {ALL_MODELS[info['kind']].description}, not an autoencoder; "
                              f"aelab explores the kinds {', '.join(REGISTRY)}")
    try:
        with torch.device("meta"):  # shapes only: a config asking for huge layers allocates nothing
            skeleton = build_any(info["kind"], **info["model"])  # an unknown kind is refused here
    except AelabError as exc:
        raise CheckpointError(f"{folder / CONFIG_NAME}: {exc}") from None
    except (OverflowError, ValueError, TypeError) as exc:  # e.g. an infinite image_shape
        raise CheckpointError(f"{folder / CONFIG_NAME}: the settings in 'model' cannot be used ({scrub(str(exc))})"
                              ) from None
    _check_weights_size(folder / WEIGHTS_NAME, skeleton)
    weights = _read_weights(folder / WEIGHTS_NAME)
    _check_weights(weights, skeleton, folder / WEIGHTS_NAME)
    model = build_any(info["kind"], **info["model"])  # as large as the weights file, now checked
    model.load_state_dict(weights)
    return Checkpoint(model.to(device).eval(), info, folder)


def export_zip(folder: str | Path) -> bytes:
    """A model folder as zip bytes holding exactly config.json and model.safetensors.

    The folder is loaded first, so only a valid model is exported (CheckpointError if not).
    """
    folder = load(folder).path
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            entry = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            try:
                archive.writestr(entry, (folder / name).read_bytes())
            except OSError as exc:
                raise CheckpointError(f"cannot read {folder / name}: {exc.strerror or exc}") from None
    return buffer.getvalue()


@reader_boundary(CheckpointError, lambda *args, **kwargs: "The uploaded model", _UPLOAD_HOW_TO)
def import_model(source: bytes, dest: str | Path, *, max_bytes: int = MAX_UPLOAD_BYTES) -> Checkpoint:
    """Install an uploaded model zip as the new folder ``dest`` and return it loaded.

    The zip holds config.json and model.safetensors at its top level or inside one folder.
    Too large, not a zip, a pickle, a zip bomb, a member compressed with anything but
    deflate, or a model `load` refuses: CheckpointError, and nothing is written. ``dest``
    must not exist; it appears complete or not at all. Leftovers of interrupted imports to
    ``dest`` are removed first (see `aelab._files.clean_leftovers`).
    """
    dest = _new_folder(dest)
    _check_upload_size(len(source), max_bytes)
    if not zipfile.is_zipfile(io.BytesIO(source)):
        if source[:1] == b"\x80":
            raise CheckpointError(_refuse_pickle_upload("it is a pickle stream"))
        raise CheckpointError(f"The uploaded file is not a zip, so it is not an aelab model. {_UPLOAD_HOW_TO}")
    clean_leftovers(dest.parent, name=dest.name)
    with open_zip(source, "The uploaded zip", max_entries=_MAX_ZIP_ENTRIES, error=CheckpointError,
                  what="entries (a model zip holds two files)") as archive:
        members = _model_members(archive, max_bytes)
        return _install(dest, lambda staging: _unpack(archive, members, staging))


def _new_folder(dest: str | Path) -> Path:
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        raise CheckpointError(f"A model named {dest.name!r} already exists; choose another name")
    return dest


def _check_upload_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise CheckpointError(f"The upload is {human_size(size)}; models are limited to {human_size(max_bytes)}")


def _refuse_pickle_upload(evidence: str) -> str:
    return (f"The uploaded file is a pickle/PyTorch file ({evidence}). aelab never loads pickles, because "
            f"loading one can run arbitrary code. {_UPLOAD_HOW_TO}")


def _model_members(archive: zipfile.ZipFile, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    """config.json and model.safetensors in the zip (top level or one folder), checked unopened."""
    everything = [e for e in archive.infolist() if not e.is_dir()]
    pickles = [e.filename for e in everything if Path(e.filename).suffix.lower() in PICKLE_SUFFIXES]
    if pickles:
        raise CheckpointError(_refuse_pickle_upload(f"the zip holds {pickles[0]}"))
    entries = zip_members(archive, "The uploaded zip", max_unpacked=max_bytes, error=CheckpointError)
    folders: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for entry in entries:
        folder, _, name = entry.filename.rpartition("/")
        if name in (CONFIG_NAME, WEIGHTS_NAME) and "/" not in folder:
            folders.setdefault(folder, {})[name] = entry
    complete = [files for files in folders.values() if len(files) == 2]
    if len(complete) > 1:
        raise CheckpointError("The uploaded zip holds more than one model; upload one model at a time")
    if not complete:
        found = {name for files in folders.values() for name in files}
        missing = " and no ".join(n for n in (CONFIG_NAME, WEIGHTS_NAME) if n not in found)
        deep = next((e.filename for e in entries if e.filename.rpartition("/")[2] in (CONFIG_NAME, WEIGHTS_NAME)
                     and e.filename.count("/") > 1), None)
        problem = f"it has no {missing}" if missing else "its two files are in different folders"
        problem += f" at its top level or inside one folder ({deep} is deeper)" if deep else ""
        raise CheckpointError(f"The uploaded zip is not an aelab model: {problem}. {_UPLOAD_HOW_TO}")
    if any(e.flag_bits & 0x1 for e in complete[0].values()):
        raise CheckpointError("The uploaded zip is password-protected; upload one without a password")
    check_readable(list(complete[0].values()), "The uploaded zip", CheckpointError)
    config_size = complete[0][CONFIG_NAME].file_size
    if config_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"The uploaded zip's {CONFIG_NAME} unpacks to {human_size(config_size)}; a model config "
                              f"is a few kilobytes (at most {human_size(MAX_CONFIG_BYTES)}). {_UPLOAD_HOW_TO}")
    return complete[0]


def _unpack(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], staging: Path) -> None:
    """Write the two members into ``staging``, streamed, each at most its declared size."""
    for name, entry in members.items():
        copy_member(archive, entry, staging / name, "The uploaded zip is damaged", CheckpointError)


def _install(dest: Path, write) -> Checkpoint:
    """Write a model into a temporary folder beside ``dest``, load it, then rename it into place."""
    try:
        with staged_folder(dest, replace=False) as staging:
            write(staging)
            loaded = _load_upload(staging)
    except FileExistsError:
        raise CheckpointError(f"A model named {dest.name!r} already exists; choose another name") from None
    except OSError as exc:
        raise CheckpointError(f"cannot write the model to {dest}: {exc.strerror or exc}") from None
    loaded.path = dest
    return loaded


def _load_upload(staging: Path) -> Checkpoint:
    """`load`, with the temporary folder's name left out of its messages."""
    try:
        return load(staging)
    except CheckpointError as exc:
        detail = str(exc).replace(f"The model {staging} ", "it ").replace(f"{staging}{os.sep}", "")
        detail = detail.replace(str(staging), "the upload")
        raise CheckpointError(f"The uploaded model cannot be used: {detail}") from None


@reader_boundary(CheckpointError, lambda folder, *args, **kwargs: Path(folder) / CONFIG_NAME, _FOLDER_HOW_TO)
def read_config(folder: Path) -> dict[str, Any]:
    """Read and validate a model folder's config.json (without touching the weights).

    At most MAX_CONFIG_BYTES are read; format_version must be a whole number from 1 to
    FORMAT_VERSION; a description, if any, must be text of at most MAX_DESCRIPTION_CHARS
    characters (a longer one is refused, not cut). Any problem is a CheckpointError.
    """
    config_path = Path(folder) / CONFIG_NAME
    try:
        with config_path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise CheckpointError(f"{config_path} is larger than {human_size(MAX_CONFIG_BYTES)}; a model config "
                                  "is a few kilobytes, so this is not one")
        info = json.loads(raw.decode())
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{config_path} is not UTF-8 text ({exc.reason} at byte {exc.start:,}), so it is not a "
                              "model config") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {config_path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config_path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise CheckpointError(f"{config_path} is nested too deeply to be a model config") from None
    except ValueError as exc:  # a number of thousands of digits
        raise CheckpointError(f"{config_path} holds a number aelab cannot read ({scrub(str(exc), 80)})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"{config_path} is not an aelab model config (its 'format' is not {FORMAT!r})")
    missing = [key for key in ("format_version", "kind", "model") if key not in info]
    if missing:
        raise CheckpointError(f"{config_path} lacks the key(s): {', '.join(missing)}")
    version = info["format_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{config_path} has format_version {_shown(version)}; it must be a whole number "
                              f"(this aelab writes {FORMAT_VERSION})")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path} has format_version {_shown(version)}; this aelab reads up to "
            f"{FORMAT_VERSION}. Upgrade aelab to load it."
        )
    if version < 1:
        raise CheckpointError(f"{config_path} has format_version {version}; versions start at 1, so it was not "
                              "written by aelab")
    if not isinstance(info["model"], dict):
        raise CheckpointError(f"{config_path}: 'model' must be an object of settings")
    _check_description(info.get("description"), f"{config_path}: 'description'")
    return info


def _check_description(description: Any, where: str) -> None:
    """A description is optional text of at most MAX_DESCRIPTION_CHARS characters."""
    if description is None:
        return
    if not isinstance(description, str):
        raise CheckpointError(f"{where} must be text, not {_JSON_TYPES.get(type(description), 'a value')}")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise CheckpointError(f"{where} is {len(description):,} characters long; at most {MAX_DESCRIPTION_CHARS:,} "
                              "are allowed")


def _shown(value: Any) -> str:
    """A config value for a message: short, whatever it is."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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


def _check_weights_size(path: Path, model: Model) -> None:
    """Refuse a weights file far larger than the config needs before it is read into memory."""
    needed = sum(v.numel() * 4 for v in model.state_dict().values())  # float32
    allowed = 2 * needed + MiB  # room for the header, and for float64 to reach its own message
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size > allowed:
        raise CheckpointError(f"{path} is {human_size(size)}, but the model its {CONFIG_NAME} describes needs "
                              f"{human_size(needed)}; it does not match its {CONFIG_NAME}")


def _check_weights(weights: dict[str, torch.Tensor], model: Model, path: Path) -> None:
    """Every tensor the model needs, with the shape it needs, float32 and finite, and nothing else."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = [f"missing {k}" for k in expected if k not in weights]
    problems += [f"unexpected {k}" for k in weights if k not in expected]
    problems += [
        f"{k} has shape {tuple(weights[k].shape)}, the config needs {shape}"
        for k, shape in expected.items()
        if k in weights and tuple(weights[k].shape) != shape
    ]
    problems += [f"{k} holds {str(v.dtype).removeprefix('torch.')} values, not float32" for k, v in weights.items()
                 if v.dtype != torch.float32]
    problems += [f"{k} contains NaN or infinite values" for k, v in weights.items()
                 if v.dtype == torch.float32 and not torch.isfinite(v).all()]
    if problems:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        hint = (" (aelab saves and reads float32 weights only: other types are refused, not converted)"
                if any("not float32" in p for p in problems) else "")
        raise CheckpointError(f"{path} does not match its config.json: {shown}{hint}")


def _replaceable(target: Path) -> bool:
    """An existing target may be replaced only if it is an empty folder or an aelab model."""
    if not target.is_dir():
        return False
    names = {p.name for p in target.iterdir()}
    return not names or names <= {CONFIG_NAME, WEIGHTS_NAME}
