"""Does the VAE's regularity depend on how long it trained? AE vs VAE (2-D) along training.

Trains the shipped ae-2d and vae-2d recipes (same architecture, data and seed) but stops
them after a few epochs of their 150-epoch schedule, then measures both the way the
"VAE vs AE" page does; the last row is the shipped, fully trained pair. The winner column
is the page's: a 95% bootstrap interval of the difference that excludes 0, else a tie.

Run: python bench/regularity_training_length.py [--epochs 5 15 45]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from aelab import checkpoint, data, pretrained, regularity  # noqa: E402
from aelab.judge import load_judge  # noqa: E402
from aelab.train import configure_cpu, fit, make_model  # noqa: E402


def trained_pair(epochs: int, splits) -> dict:
    recipes = {r.name: r for r in pretrained.RECIPES}
    models = {}
    for name in ("ae-2d", "vae-2d"):
        recipe = recipes[name]
        config = dataclasses.replace(recipe.training, epochs=recipe.training.epochs, patience=None)
        model = make_model(recipe.kind, recipe.model, splits.train.image_shape, config.seed)
        fit(model, splits.train.images, splits.val.images, config, callback=lambda log: log.epoch >= epochs)
        models[name] = model
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, nargs="+", default=[5, 15, 45])
    args = parser.parse_args()
    configure_cpu(1)
    splits = data.load_splits("mnist5k")
    judge, _ = load_judge(pretrained.judge_dir())
    shipped = {e["name"]: checkpoint.load(e["path"]).model for e in pretrained.read_index()
               if e["name"] in ("ae-2d", "vae-2d")}
    rows = [(f"{n} epochs", trained_pair(n, splits)) for n in args.epochs] + [("shipped", shipped)]
    print(f"{'trained':<12}{'measure':<28}{'AE':>10}{'VAE':>10}  more regular")
    for label, models in rows:
        figures = {name: regularity.measure(m, splits.train.images, splits.val.images, judge)
                   for name, m in models.items()}
        for key, row in regularity.compare(figures["ae-2d"], figures["vae-2d"], ("AE", "VAE")).items():
            print(f"{label:<12}{key:<28}{row['first']:>10.3f}{row['second']:>10.3f}  {row['more regular']}")


if __name__ == "__main__":
    main()
