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

from . import __version__, i18n
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
from .i18n import N_, _
from .models import ALL_MODELS, REGISTRY, Model, build_any

FORMAT = "aelab-model"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")
REFUSE_PICKLE = N_(  # a template: i18n._(REFUSE_PICKLE, path=...)
    "{path} is a pickle/PyTorch file. aelab never loads pickles, because loading one can run "
    "arbitrary code. Give a model folder with config.json and model.safetensors instead."
)
MAX_UPLOAD_BYTES = 200 * MiB
MAX_CONFIG_BYTES = MiB  # a config.json is a few kilobytes
MAX_DESCRIPTION_CHARS = 2000  # a model's description is a line or two; longer ones are refused, not cut
_UPLOAD_HOW_TO = N_("Upload the zip that aelab's download gives (it holds config.json and model.safetensors).")
_MAX_ZIP_ENTRIES = 1000  # a model zip holds two files, plus what an archiver adds beside them
_FOLDER_HOW_TO = N_("Give a model folder that aelab saved (config.json and model.safetensors).")
_JSON_TYPES = {dict: N_("an object"), list: N_("a list"), str: N_("text"), int: N_("a number"), float: N_("a number"),
               bool: N_("true or false"), type(None): "null"}
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
    _check_description((info or {}).get("description"), _("the description"))
    if target.exists() and not _replaceable(target):
        raise CheckpointError(_("{target} exists and is not an aelab model folder; refusing to overwrite it. "
                                "Choose a new or empty folder.", target=target))
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


@reader_boundary(CheckpointError, lambda path, *args, **kwargs: _("The model {path}", path=path), _FOLDER_HOW_TO)
def load(path: str | Path, device: str = "cpu", *, any_kind: bool = False) -> Checkpoint:
    """Load a model folder (or its config.json / model.safetensors), validating everything.

    Only autoencoders, unless ``any_kind`` (the judge classifier is saved the same way).
    Weights must be float32, as aelab saves them (other types are refused, not converted).
    Any problem is a CheckpointError naming the file.
    """
    folder = _model_folder(Path(path))
    info = read_config(folder)
    if not any_kind and isinstance(info["kind"], str) and info["kind"] in ALL_MODELS and info["kind"] not in REGISTRY:
        held = ALL_MODELS[info["kind"]].description
        raise CheckpointError(_("{folder} holds a {kind}, not an autoencoder; aelab explores the kinds {kinds}",
                                folder=folder, kind=i18n._(held), kinds=", ".join(REGISTRY)))
    try:
        with torch.device("meta"):  # shapes only: a config asking for huge layers allocates nothing
            skeleton = build_any(info["kind"], **info["model"])  # an unknown kind is refused here
    except AelabError as exc:
        raise CheckpointError(_("{path}: {problem}", path=folder / CONFIG_NAME, problem=exc)) from None
    except (OverflowError, ValueError, TypeError) as exc:  # e.g. an infinite image_shape
        raise CheckpointError(_("{path}: the settings in 'model' cannot be used ({detail})", path=folder / CONFIG_NAME,
                                detail=scrub(str(exc)))) from None
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
                raise CheckpointError(_("cannot read {path}: {why}", path=folder / name,
                                        why=exc.strerror or exc)) from None
    return buffer.getvalue()


@reader_boundary(CheckpointError, lambda *args, **kwargs: _("The uploaded model"), _UPLOAD_HOW_TO)
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
            raise CheckpointError(_refuse_pickle_upload(_("it is a pickle stream")))
        raise CheckpointError(_("The uploaded file is not a zip, so it is not an aelab model. {how_to}",
                                how_to=i18n._(_UPLOAD_HOW_TO)))
    clean_leftovers(dest.parent, name=dest.name)
    with open_zip(source, _("The uploaded zip"), max_entries=_MAX_ZIP_ENTRIES, error=CheckpointError,
                  what=N_("entries (a model zip holds two files)")) as archive:
        members = _model_members(archive, max_bytes)
        return _install(dest, lambda staging: _unpack(archive, members, staging))


def _new_folder(dest: str | Path) -> Path:
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        raise CheckpointError(_("A model named {name!r} already exists; choose another name", name=dest.name))
    return dest


def _check_upload_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise CheckpointError(_("The upload is {size}; models are limited to {limit}", size=human_size(size),
                                limit=human_size(max_bytes)))


def _refuse_pickle_upload(evidence: str) -> str:
    return _("The uploaded file is a pickle/PyTorch file ({evidence}). aelab never loads pickles, because "
             "loading one can run arbitrary code. {how_to}", evidence=evidence, how_to=i18n._(_UPLOAD_HOW_TO))


def _model_members(archive: zipfile.ZipFile, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    """config.json and model.safetensors in the zip (top level or one folder), checked unopened."""
    everything = [e for e in archive.infolist() if not e.is_dir()]
    pickles = [e.filename for e in everything if Path(e.filename).suffix.lower() in PICKLE_SUFFIXES]
    if pickles:
        raise CheckpointError(_refuse_pickle_upload(_("the zip holds {name}", name=pickles[0])))
    entries = zip_members(archive, _("The uploaded zip"), max_unpacked=max_bytes, error=CheckpointError)
    folders: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for entry in entries:
        folder, _sep, name = entry.filename.rpartition("/")
        if name in (CONFIG_NAME, WEIGHTS_NAME) and "/" not in folder:
            folders.setdefault(folder, {})[name] = entry
    complete = [files for files in folders.values() if len(files) == 2]
    if len(complete) > 1:
        raise CheckpointError(_("The uploaded zip holds more than one model; upload one model at a time"))
    if not complete:
        raise CheckpointError(_("The uploaded zip is not an aelab model: {problem}. {how_to}",
                                problem=_missing_model_files(folders, entries), how_to=i18n._(_UPLOAD_HOW_TO)))
    if any(e.flag_bits & 0x1 for e in complete[0].values()):
        raise CheckpointError(_("The uploaded zip is password-protected; upload one without a password"))
    check_readable(list(complete[0].values()), _("The uploaded zip"), CheckpointError)
    config_size = complete[0][CONFIG_NAME].file_size
    if config_size > MAX_CONFIG_BYTES:
        raise CheckpointError(_("The uploaded zip's config.json unpacks to {size}; a model config is a few kilobytes "
                                "(at most {limit}). {how_to}", size=human_size(config_size),
                                limit=human_size(MAX_CONFIG_BYTES), how_to=i18n._(_UPLOAD_HOW_TO)))
    return complete[0]


def _missing_model_files(folders: dict[str, dict[str, zipfile.ZipInfo]], entries: list[zipfile.ZipInfo]) -> str:
    """Why a zip holds no model, e.g. "it has no model.safetensors"."""
    found = {name for files in folders.values() for name in files}
    missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME) if n not in found]
    if len(missing) == 2:
        problem = _("it has no config.json and no model.safetensors")
    elif missing:
        problem = _("it has no {name}", name=missing[0])
    else:
        problem = _("its two files are in different folders")
    deep = next((e.filename for e in entries if e.filename.rpartition("/")[2] in (CONFIG_NAME, WEIGHTS_NAME)
                 and e.filename.count("/") > 1), None)
    if deep:
        return _("{problem} at its top level or inside one folder ({path} is deeper)", problem=problem, path=deep)
    return problem


def _unpack(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], staging: Path) -> None:
    """Write the two members into ``staging``, streamed, each at most its declared size."""
    for name, entry in members.items():
        copy_member(archive, entry, staging / name, _("The uploaded zip is damaged"), CheckpointError)


def _install(dest: Path, write) -> Checkpoint:
    """Write a model into a temporary folder beside ``dest``, load it, then rename it into place."""
    try:
        with staged_folder(dest, replace=False) as staging:
            write(staging)
            loaded = _load_upload(staging)
    except FileExistsError:
        raise CheckpointError(_("A model named {name!r} already exists; choose another name",
                                name=dest.name)) from None
    except OSError as exc:
        raise CheckpointError(_("cannot write the model to {dest}: {why}", dest=dest,
                                why=exc.strerror or exc)) from None
    loaded.path = dest
    return loaded


def _load_upload(staging: Path) -> Checkpoint:
    """`load`, with the temporary folder's name left out of its messages."""
    try:
        return load(staging)
    except CheckpointError as exc:
        subject = _("The model {path}", path=staging)  # as load's messages name it
        detail = str(exc).replace(subject + " ", _("it") + " ").replace(subject, _("it"))
        detail = detail.replace(f"{staging}{os.sep}", "").replace(str(staging), _("the upload"))
        raise CheckpointError(_("The uploaded model cannot be used: {detail}", detail=detail)) from None


@reader_boundary(CheckpointError, lambda folder, *args, **kwargs: str(Path(folder) / CONFIG_NAME), _FOLDER_HOW_TO)
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
            raise CheckpointError(_("{path} is larger than {limit}; a model config is a few kilobytes, so this is "
                                    "not one", path=config_path, limit=human_size(MAX_CONFIG_BYTES)))
        info = json.loads(raw.decode())
    except UnicodeDecodeError as exc:
        raise CheckpointError(_("{path} is not UTF-8 text ({reason} at byte {at:,}), so it is not a model config",
                                path=config_path, reason=exc.reason, at=exc.start)) from None
    except OSError as exc:
        raise CheckpointError(_("cannot read {path}: {why}", path=config_path, why=exc.strerror or exc)) from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(_("{path} is not valid JSON ({why} at line {line})", path=config_path, why=exc.msg,
                                line=exc.lineno)) from None
    except RecursionError:
        raise CheckpointError(_("{path} is nested too deeply to be a model config", path=config_path)) from None
    except ValueError as exc:  # a number of thousands of digits
        raise CheckpointError(_("{path} holds a number aelab cannot read ({detail})", path=config_path,
                                detail=scrub(str(exc), 80))) from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(_("{path} is not an aelab model config (its 'format' is not {format!r})",
                                path=config_path, format=FORMAT))
    missing = [key for key in ("format_version", "kind", "model") if key not in info]
    if missing:
        raise CheckpointError(_("{path} lacks the key(s): {keys}", path=config_path, keys=", ".join(missing)))
    version = info["format_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(_("{path} has format_version {version}; it must be a whole number "
                                "(this aelab writes {current})", path=config_path, version=_shown(version),
                                current=FORMAT_VERSION))
    if version > FORMAT_VERSION:
        raise CheckpointError(_("{path} has format_version {version}; this aelab reads up to {current}. Upgrade "
                                "aelab to load it.", path=config_path, version=_shown(version),
                                current=FORMAT_VERSION))
    if version < 1:
        raise CheckpointError(_("{path} has format_version {version}; versions start at 1, so it was not "
                                "written by aelab", path=config_path, version=version))
    if not isinstance(info["model"], dict):
        raise CheckpointError(_("{path}: 'model' must be an object of settings", path=config_path))
    _check_description(info.get("description"), f"{config_path}: 'description'")
    return info


def _check_description(description: Any, where: str) -> None:
    """A description is optional text of at most MAX_DESCRIPTION_CHARS characters."""
    if description is None:
        return
    if not isinstance(description, str):
        what = i18n._(_JSON_TYPES[type(description)]) if type(description) in _JSON_TYPES else _("a value")
        raise CheckpointError(_("{where} must be text, not {what}", where=where, what=what))
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise CheckpointError(_("{where} is {n:,} characters long; at most {most:,} are allowed", where=where,
                                n=len(description), most=MAX_DESCRIPTION_CHARS))


def _shown(value: Any) -> str:
    """A config value for a message: short, whatever it is."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _model_folder(path: Path) -> Path:
    """The model folder that ``path`` names, refusing pickles and non-models with a reason."""
    if not path.exists():
        raise CheckpointError(_("{path} does not exist", path=path))
    if path.is_file():
        if path.name in (CONFIG_NAME, WEIGHTS_NAME):
            return path.parent
        if path.suffix.lower() in PICKLE_SUFFIXES or _looks_like_pickle(path):
            raise CheckpointError(i18n._(REFUSE_PICKLE, path=path))
        raise CheckpointError(_("{path} is a file, not an aelab model folder (config.json + model.safetensors)",
                                path=path))
    if not (path / CONFIG_NAME).is_file():
        pickles = [p.name for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES]
        if pickles:
            raise CheckpointError(i18n._(REFUSE_PICKLE, path=path / pickles[0]))
        raise CheckpointError(_("{path} is not an aelab model folder: config.json is missing", path=path))
    if not (path / WEIGHTS_NAME).is_file():
        raise CheckpointError(_("{path} is not a complete model folder: model.safetensors is missing", path=path))
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
        raise CheckpointError(i18n._(REFUSE_PICKLE, path=path))
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(_("{path} is damaged or not a safetensors file ({detail})", path=path,
                                detail=exc)) from None


def _check_weights_size(path: Path, model: Model) -> None:
    """Refuse a weights file far larger than the config needs before it is read into memory."""
    needed = sum(v.numel() * 4 for v in model.state_dict().values())  # float32
    allowed = 2 * needed + MiB  # room for the header, and for float64 to reach its own message
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CheckpointError(_("cannot read {path}: {why}", path=path, why=exc.strerror or exc)) from None
    if size > allowed:
        raise CheckpointError(_("{path} is {size}, but the model its config.json describes needs {needed}; it does "
                                "not match its config.json", path=path, size=human_size(size),
                                needed=human_size(needed)))


def _check_weights(weights: dict[str, torch.Tensor], model: Model, path: Path) -> None:
    """Every tensor the model needs, with the shape it needs, float32 and finite, and nothing else."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = [_("missing {name}", name=k) for k in expected if k not in weights]
    problems += [_("unexpected {name}", name=k) for k in weights if k not in expected]
    problems += [
        _("{name} has shape {shape}, the config needs {needed}", name=k, shape=tuple(weights[k].shape), needed=shape)
        for k, shape in expected.items()
        if k in weights and tuple(weights[k].shape) != shape
    ]
    not_float32 = [_("{name} holds {dtype} values, not float32", name=k, dtype=str(v.dtype).removeprefix("torch."))
                   for k, v in weights.items() if v.dtype != torch.float32]
    problems += not_float32
    problems += [_("{name} contains NaN or infinite values", name=k) for k, v in weights.items()
                 if v.dtype == torch.float32 and not torch.isfinite(v).all()]
    if problems:
        shown = "; ".join(problems[:4])
        if len(problems) > 4:
            shown = _("{shown}; and {n} more", shown=shown, n=len(problems) - 4)
        if not_float32:
            shown = _("{shown} (aelab saves and reads float32 weights only: other types are refused, not converted)",
                      shown=shown)
        raise CheckpointError(_("{path} does not match its config.json: {problems}", path=path, problems=shown))


def _replaceable(target: Path) -> bool:
    """An existing target may be replaced only if it is an empty folder or an aelab model."""
    if not target.is_dir():
        return False
    names = {p.name for p in target.iterdir()}
    return not names or names <= {CONFIG_NAME, WEIGHTS_NAME}
