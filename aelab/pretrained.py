"""The shipped pretrained models: their recipes, their manifest, and how to rebuild them.

``python -m aelab pretrained`` retrains every recipe from scratch and rewrites
``pretrained/index.json``, so the shipped weights are reproducible.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import data, i18n, judge
from ._files import atomic_write_json
from .errors import CheckpointError
from .i18n import N_
from .models import KINDS
from .runs import train_and_save
from .train import TrainConfig

INDEX_NAME = "index.json"


@dataclass(frozen=True)
class Recipe:
    """How one shipped model is trained.

    Its description is ``about`` (English, marked with ``N_()``) filled with ``values``; the
    manifest keeps it in English, and :func:`shown_description` gives it in the reader's language.
    """

    name: str
    kind: str
    model: dict[str, Any]
    training: TrainConfig
    data: str = "mnist5k"
    about: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = field(default_factory=tuple)
    # What chooses the best epoch: the held-out split (as the recipes chosen before issue 11), or a
    # 10% slice of the training digits (stratified, seed 0), which keeps the held-out digits unseen
    # until the model is measured on them.
    stop_on: str = "held_out"

    @property
    def description(self) -> str:
        """What the model is, in English, as the manifest (index.json) and its config.json keep it."""
        return self.about.format(**self.values)


# Descriptions several recipes share (see Recipe.about)
_PLAIN = N_("plain AE, {dim}-D latent")
_VAE = N_("VAE, beta={beta:g}, {dim}-D latent")

# One architecture and one training recipe for every shipped model, so that models differ
# only in what their kind adds. The architecture is the models' defaults (see
# aelab.models.base.SHARED_OPTIONS); lr 2e-3 beat 1e-3 and 3e-3 in a sweep on the 2-D VAE's
# validation loss, and weight decay hurt. Early stopping keeps the best epoch.
_MLP = {"hidden": [256, 128], "recon_loss": "bce", "arch": "mlp"}
# Trained with torch's default (unfused) Adam, before aelab switched to the fused kernel;
# kept so that `python -m aelab pretrained` rebuilds the shipped weights bit for bit.
_TRAINING = TrainConfig(epochs=150, batch_size=64, lr=2e-3, lr_schedule="cosine", patience=25, seed=0,
                        fused_adam=False)

RECIPES: tuple[Recipe, ...] = (
    Recipe("ae-2d", "ae", _MLP | {"latent_dim": 2}, _TRAINING, about=_PLAIN, values={"dim": 2}),
    Recipe("dae-2d", "dae", _MLP | {"latent_dim": 2, "corruption": "gaussian", "noise_level": 0.3},
           _TRAINING, about=N_("denoising AE, Gaussian noise sigma={level:g}, {dim}-D latent"),
           values={"level": 0.3, "dim": 2}),
    Recipe("sae-2d", "sae", _MLP | {"latent_dim": 2, "penalty": "l1", "sparsity_weight": 1.0},
           _TRAINING, about=N_("sparse AE, L1 penalty weight {weight:g}, {dim}-D latent"),
           values={"weight": 1.0, "dim": 2}),
    Recipe("vae-2d", "vae", _MLP | {"latent_dim": 2, "beta": 1.0}, _TRAINING, about=_VAE,
           values={"beta": 1.0, "dim": 2}),
    Recipe("ae-16d", "ae", _MLP | {"latent_dim": 16}, _TRAINING, about=_PLAIN, values={"dim": 16}),
    Recipe("vae-16d", "vae", _MLP | {"latent_dim": 16, "beta": 1.0}, _TRAINING, about=_VAE,
           values={"beta": 1.0, "dim": 16}),
    # The beta slider: the same 2-D VAE with a lighter or heavier KL term. At beta = 0 nothing
    # pulls the codes toward the prior: the article's lesson of what the KL term is for.
    *(Recipe(f"vae-2d-beta{beta:g}", "vae", _MLP | {"latent_dim": 2, "beta": beta}, _TRAINING,
             about=_VAE if beta else N_("VAE, beta={beta:g}, {dim}-D latent (no KL term)"),
             values={"beta": beta, "dim": 2}, tags=("beta",))
      for beta in (0.0, 0.25, 0.5, 2.0, 4.0)),
)

# The denoising lab: DAEs at a few noise levels and two latent sizes, each beside the plain AE
# of the same size (same architecture, data and seed). A 2-D code is too narrow to show
# denoising: at 16 and 64 dimensions the AE reconstructs well enough for noise to matter.
DENOISING_LEVELS = {"gaussian": (0.25, 0.5, 0.75), "mask": (0.5,), "salt_pepper": (0.25,)}
_CORRUPTION_TAGS = {"gaussian": "gauss", "mask": "mask", "salt_pepper": "sp"}
_CORRUPTION_ABOUT = {"gaussian": N_("denoising AE, Gaussian noise sigma {level:g}, {dim}-D latent"),
                     "mask": N_("denoising AE, masking, fraction {level:g}, {dim}-D latent"),
                     "salt_pepper": N_("denoising AE, salt and pepper, fraction {level:g}, {dim}-D latent")}
DENOISING_RECIPES: tuple[Recipe, ...] = (
    Recipe("ae-64d", "ae", _MLP | {"latent_dim": 64}, _TRAINING, about=_PLAIN, values={"dim": 64},
           tags=("denoising",)),
    *(Recipe(f"dae-{dim}d-{_CORRUPTION_TAGS[corruption]}{level:g}", "dae",
             _MLP | {"latent_dim": dim, "corruption": corruption, "noise_level": level}, _TRAINING,
             about=_CORRUPTION_ABOUT[corruption], values={"level": level, "dim": dim}, tags=("denoising",))
      for dim in (16, 64) for corruption, levels in DENOISING_LEVELS.items() for level in levels
      if dim == 16 or corruption == "gaussian"),
)

# The sparsity lab: one-layer SAEs with 128 code units (overcomplete next to the 2-D maps;
# each unit's decoder column is a stroke-like feature), at every stop of the lab's sliders.
SPARSE_UNITS = 128
L1_WEIGHTS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)
KL_WEIGHTS = (0.0, 0.3, 1.0, 3.0)
KL_RHOS = (0.02, 0.05, 0.1, 0.2)
_SHALLOW = _MLP | {"latent_dim": SPARSE_UNITS, "hidden": []}
SPARSITY_RECIPES: tuple[Recipe, ...] = (
    *(Recipe(f"sae-{SPARSE_UNITS}u-l1-w{w:g}", "sae",
             _SHALLOW | {"penalty": "l1", "activation": "relu", "sparsity_weight": w}, _TRAINING,
             about=N_("sparse AE, {units} ReLU units, L1 weight {weight:g}"),
             values={"units": SPARSE_UNITS, "weight": w}, tags=("sparsity",))
      for w in L1_WEIGHTS),
    *(Recipe(f"sae-{SPARSE_UNITS}u-kl-w{w:g}" + (f"-rho{rho:g}" if w else ""), "sae",
             _SHALLOW | {"penalty": "kl", "sparsity_weight": w, "target_rho": rho}, _TRAINING,
             about=(N_("sparse AE, {units} sigmoid units, KL weight {weight:g} to rho={rho:g}") if w
                    else N_("sparse AE, {units} sigmoid units, KL weight {weight:g} (no penalty)")),
             values={"units": SPARSE_UNITS, "weight": w, "rho": rho}, tags=("sparsity",))
      for w in KL_WEIGHTS for rho in (KL_RHOS if w else (KL_RHOS[1],))),
)
# The losses page: the 16-D plain AE trained with each other reconstruction loss (ae-16d is the
# binary cross-entropy one), everything else the same.
LOSS_RECIPES: tuple[Recipe, ...] = tuple(
    Recipe(f"ae-16d-{loss}", "ae", _MLP | {"latent_dim": 16, "recon_loss": loss}, _TRAINING,
           about=N_("plain AE, {dim}-D latent, trained with {loss} loss"), values={"dim": 16, "loss": loss},
           tags=("losses",))
    for loss in ("mse", "cce", "kl", "cosine"))
# The identity trap: one-layer AEs (a linear code, one linear layer each way) from under- to
# overcomplete, and at the largest size a DAE and an SAE that differ from the AE only in their
# regularizer (the kinds' default noise and penalty), to show which of them learns to copy.
IDENTITY_UNITS = (16, 64, 256, 784, 1024)
_LINEAR = _MLP | {"hidden": []}
IDENTITY_RECIPES: tuple[Recipe, ...] = (
    *(Recipe(f"ae-linear-{units}u", "ae", _LINEAR | {"latent_dim": units}, _TRAINING,
             about=N_("plain AE, one linear layer each way, {units} code units"), values={"units": units},
             tags=("identity",))
      for units in IDENTITY_UNITS),
    Recipe(f"dae-linear-{IDENTITY_UNITS[-1]}u", "dae",
           _LINEAR | {"latent_dim": IDENTITY_UNITS[-1], "corruption": "gaussian", "noise_level": 0.3}, _TRAINING,
           about=N_("denoising AE, Gaussian noise sigma={level:g}, one linear layer each way, {units} code units"),
           values={"level": 0.3, "units": IDENTITY_UNITS[-1]}, tags=("identity",)),
    Recipe(f"sae-linear-{IDENTITY_UNITS[-1]}u", "sae",
           _LINEAR | {"latent_dim": IDENTITY_UNITS[-1], "penalty": "l1", "sparsity_weight": 1.0}, _TRAINING,
           about=N_("sparse AE, L1 penalty weight {weight:g}, one linear layer each way, {units} code units"),
           values={"weight": 1.0, "units": IDENTITY_UNITS[-1]}, tags=("identity",)),
)
# The best 2-D VAE the 4,500 training digits give, chosen by 5-fold cross-validation on them alone
# (bench/recipe_cv.py: shifts of 1 px and a longer schedule beat the shared recipe by 6.9 nats of
# -ELBO, 95% interval 5.2 to 8.6; shifts of 2 px and rotations did worse). Not one of the compared
# pairs: it differs from ae-2d in more than its variational part.
BEST_RECIPES: tuple[Recipe, ...] = (
    Recipe("vae-2d-best", "vae", _MLP | {"latent_dim": 2, "beta": 1.0},
           TrainConfig(epochs=300, batch_size=64, lr=2e-3, lr_schedule="cosine", patience=40, seed=0,
                       augment_shift=1),
           about=N_("VAE, beta={beta:g}, {dim}-D latent, the cross-validated recipe ({shift}-px shifts, "
                    "{epochs} epochs)"), values={"beta": 1.0, "dim": 2, "shift": 1, "epochs": 300},
           tags=("best",), stop_on="training_slice"),
)
RECIPES = RECIPES + DENOISING_RECIPES + SPARSITY_RECIPES + LOSS_RECIPES + IDENTITY_RECIPES + BEST_RECIPES
_RECIPES_BY_NAME = {r.name: r for r in RECIPES}
JUDGE_DIR = "judge"  # the digit classifier whose features judge samples (see aelab.judge)
FIGURES_DIR = "figures"  # the compare page's measured figures of the models it shows (aelab.regularity)
LAYOUTS_DIR = "layouts"  # UMAP layouts of the shipped models' codes, for the explorer (aelab.layouts)


_BESIDE_PACKAGE = Path(__file__).resolve().parent.parent / "pretrained"  # resolved once: asked on every app run


def default_dir() -> Path:
    """Where the shipped models live: $AELAB_PRETRAINED, else ``pretrained/`` beside the package."""
    return Path(os.environ.get("AELAB_PRETRAINED", _BESIDE_PACKAGE))


def read_index(directory: Path | None = None, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """The manifest's usable model entries, each with ``path`` made absolute.

    A malformed entry (no name or path, a path leaving the folder, an unknown kind, a latent
    size that is not a whole number) is skipped; why is appended to ``problems`` when given.
    An unreadable manifest as a whole is a CheckpointError.
    """
    directory = directory or default_dir()
    index_path = directory / INDEX_NAME
    try:
        entries = json.loads(index_path.read_text())["models"]
        if not isinstance(entries, list):
            raise TypeError("'models' is not a list")
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CheckpointError(f"cannot read the pretrained manifest {index_path}: {exc}") from None
    usable = []
    for i, entry in enumerate(entries):
        problem = _entry_problem(entry)
        if problem:
            if problems is not None:
                problems.append(f"entry {i + 1} of {index_path.name} {problem}; it was skipped")
            continue
        usable.append(entry | {"path": str(directory / entry["path"])})
    return usable


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "is not an object"
    for key in ("name", "path", "kind"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            return f"has no {key}"
    if Path(entry["path"]).is_absolute() or ".." in Path(entry["path"]).parts:
        return "names a path outside the pretrained folder"
    if entry["kind"] not in KINDS:
        return f"has an unknown kind {entry['kind'][:20]!r}"
    latent = entry.get("latent_dim")
    if not isinstance(latent, int) or isinstance(latent, bool) or latent < 1:
        return "has no valid latent_dim"
    if not isinstance(entry.get("data", "mnist5k"), str) or not isinstance(entry.get("description", ""), str):
        return "has a data or description that is not text"
    return None


def build_all(
    out: Path,
    names: list[str] | None = None,
    train_fn: Callable[..., dict[str, Any]] | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Train the chosen recipes (all by default) into ``out`` and rewrite its index.json."""
    train_fn = train_fn or train_and_save
    chosen = [r for r in RECIPES if names is None or r.name in names]
    entries = {e["name"]: e for e in _existing_entries(out)}
    for recipe in chosen:
        log(f"training {recipe.name} ({recipe.description})")
        tic = time.perf_counter()
        source, report_on = training_data(recipe)
        info = train_fn(recipe.kind, recipe.model, source, recipe.training, out / recipe.name,
                        description=recipe.description, **({"report_on": report_on} if report_on else {}))
        log(f"  {recipe.name}: {time.perf_counter() - tic:.1f} s, metrics {info['metrics']}")
        entries[recipe.name] = {
            "name": recipe.name,
            "path": recipe.name,
            "kind": recipe.kind,
            "latent_dim": recipe.model["latent_dim"],
            "data": recipe.data,
            "description": recipe.description,
            **({"tags": list(recipe.tags)} if recipe.tags else {}),
            "metrics": info["metrics"],
            "train_seconds": round(info["fit"]["seconds"], 1),
            "training": info["training"],
        }
    if names is None or JUDGE_DIR in names:
        build_judge(out, log)
    if names is None or FIGURES_DIR in names or JUDGE_DIR in names or any(map(compared, chosen)):
        build_figures(out, log)  # they depend on the judge and on every model they measure
    if names is None or LAYOUTS_DIR in names or any(r.model["latent_dim"] > 2 for r in chosen):
        build_layouts(out, log)
    order = [r.name for r in RECIPES]
    ordered = sorted(entries.values(), key=lambda e: order.index(e["name"]) if e["name"] in order else len(order))
    atomic_write_json(out / INDEX_NAME, {"models": ordered})
    return ordered


def training_data(recipe: Recipe) -> tuple[str | data.Splits, data.ImageSet | None]:
    """What a recipe trains on, and the images its metrics are reported on when they are not the ones
    that chose its best epoch (see Recipe.stop_on)."""
    if recipe.stop_on == "held_out":
        return recipe.data, None
    from .selection import inner_split

    splits = data.load_splits(recipe.data, seed=recipe.training.seed)
    fit_on, stop_on = inner_split(np.arange(len(splits.train)), splits.train.labels)
    return data.Splits(splits.train.subset(fit_on), splits.train.subset(stop_on), splits.spec), splits.val


def build_judge(out: Path, log: Callable[[str], None] = print) -> None:
    """Train the judge classifier on the embedded digits' training split and save it."""
    splits = data.load_splits("mnist5k")
    tic = time.perf_counter()
    classifier = judge.train_judge(splits)
    accuracy = classifier.accuracy(splits.val.images, splits.val.labels)
    judge.save_judge(classifier, out / JUDGE_DIR, {"data": "mnist5k", "val_accuracy": accuracy,
                                                   "training": asdict(judge.TRAINING)})
    log(f"  judge: {time.perf_counter() - tic:.1f} s, held-out accuracy {accuracy:.3f}")


def compared(recipe: Recipe) -> bool:
    """Whether the compare page measures this shipped model: the 2-D and 16-D kinds and the beta slider's VAEs."""
    return not recipe.tags or recipe.tags == ("beta",)


def build_figures(out: Path, log: Callable[[str], None] = print) -> None:
    """Measure every model the compare page shows, once, into ``out/figures`` (see regularity.stored_measure)."""
    from . import checkpoint, regularity

    splits = data.load_splits("mnist5k")
    folder = out / FIGURES_DIR
    stale = set(folder.glob("figures-*.npz"))
    classifier, _ = judge.load_judge(out / JUDGE_DIR)
    for recipe in filter(compared, RECIPES):
        model_dir = out / recipe.name
        regularity.stored_measure(checkpoint.load(model_dir).model, model_dir, splits.train.images,
                                  splits.val.images, classifier, folders=[folder])
        key = regularity.figures_key(model_dir, classifier, splits.train.images, splits.val.images,
                                     **regularity.MEASURE_SETTINGS)
        stale.discard(folder / f"figures-{key}.npz")
    for path in stale:  # figures of models or a judge that are no longer shipped
        path.unlink()
    log(f"  figures: {folder}")


def build_layouts(out: Path, log: Callable[[str], None] = print) -> None:
    """Lay out the codes of every shipped model with 3 to 64 latent dimensions with UMAP, into
    ``out/layouts``, so the explorer's UMAP projection opens at once (see aelab.layouts)."""
    from . import checkpoint, explore, layouts

    folder = out / LAYOUTS_DIR
    stale = set(folder.glob("umap-*.npz"))
    for recipe in RECIPES:
        model_dir = out / recipe.name
        if not 2 < recipe.model["latent_dim"] <= layouts.SHIPPED_MAX_DIM or not model_dir.is_dir():
            continue
        splits = data.load_splits(recipe.data)  # the explorer's data: train then held-out, seed 0
        codes, _ = explore.encode(checkpoint.load(model_dir).model,
                                  np.concatenate([splits.train.images, splits.val.images]))
        stale.discard(layouts.ship(model_dir, recipe.data, codes, folder))
    for path in stale:  # layouts of models no longer shipped
        path.unlink()
    log(f"  layouts: {folder}")


def layouts_dir(directory: Path | None = None) -> Path:
    """Where the shipped UMAP layouts live."""
    return (directory or default_dir()) / LAYOUTS_DIR


def shown_description(name: str, stored: str) -> str:
    """A model's description for the page, in the current language: when ``name`` is a shipped
    recipe's and ``stored`` (the manifest's text) is what that recipe says, the recipe's words
    translated; otherwise ``stored`` as it is (a model of the user's, or a changed manifest)."""
    recipe = _RECIPES_BY_NAME.get(name)
    if recipe is None or not recipe.about or stored != recipe.description:
        return stored
    return i18n._(recipe.about, **recipe.values)


def judge_dir(directory: Path | None = None) -> Path:
    """Where the shipped judge classifier lives."""
    return (directory or default_dir()) / JUDGE_DIR


def _existing_entries(out: Path) -> list[dict[str, Any]]:
    try:
        return json.loads((out / INDEX_NAME).read_text())["models"]
    except (OSError, ValueError, KeyError):
        return []


