"""Sample quality of the shipped models as density, coverage, precision and recall (aelab.labs.fidelity).

Each model's 2,000 samples, drawn the way the "VAE vs AE" page samples it (VAE: its prior
N(0, I); others: a Gaussian fitted to their training codes, aelab.regularity.native_sampler),
against the 500 held-out digits, in the shipped conv judge's features, with k = 5. Each
figure is followed by its 95% percentile-bootstrap interval over the samples (density,
precision) or the real digits (coverage, recall), holding the k-NN balls fixed; then the
Frechet distance in the same features. The first row is the judge's noise floor: 2,000
training digits against the held-out ones (real against real; coverage's expectation for
one distribution is printed beside it).

Recall builds its balls around the samples, so it reads the samples' own spread: a 2-D
decoder's samples lie on a thin 2-D sheet in the judge's features (median k-NN radius about
3 for vae-2d's 2,000 samples, 17 for the real digits), which few real digits touch, and every
2-D model's recall is near 0 while its coverage is near 0.45.

Run: python bench/fidelity.py   (about a minute on a laptop)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import numpy as np  # noqa: E402

from aelab import checkpoint, data, explore, pretrained, regularity  # noqa: E402
from aelab.judge import load_judge  # noqa: E402
from aelab.labs import fidelity as fd  # noqa: E402

MODELS = ("ae-2d", "dae-2d", "sae-2d", "vae-2d-beta0", "vae-2d-beta0.25", "vae-2d-beta0.5", "vae-2d",
          "vae-2d-beta2", "vae-2d-beta4", "ae-16d", "vae-16d")
SAMPLES = 2000


def row(name: str, real: np.ndarray, fake: np.ndarray) -> str:
    """One table line: each measure with its interval, then the Frechet distance."""
    values = fd.per_sample(real, fake)
    bounds = fd.intervals(values)
    cells = "".join(f"{values[m].mean():>8.3f} [{bounds[m][0]:.3f}, {bounds[m][1]:.3f}]" for m in fd.MEASURES)
    return f"{name:<22}{cells}{regularity.frechet_distance(fake, real):>9.1f}"


def samples(model, train_images: np.ndarray, n: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """Decoded samples, drawn as :func:`aelab.regularity.completeness` draws them."""
    train_codes, _ = explore.encode(model, train_images)
    return explore.decode(model, regularity.sample_codes(train_codes, n, regularity.native_sampler(model), seed))


def main() -> None:
    tic = time.perf_counter()
    splits = data.load_splits("mnist5k")
    judge, info = load_judge(pretrained.judge_dir())
    real = judge.features(splits.val.images)
    print(f"judge: {judge.arch}, {judge.n_features} features, held-out accuracy {info.get('val_accuracy', np.nan):.3f};"
          f" {len(real)} held-out digits, {SAMPLES} samples per row, k = {fd.K}")
    print(f"{'':<22}" + "".join(f"{m:>23}" for m in fd.MEASURES) + f"{'Frechet':>9}")
    pick = np.random.default_rng(0).choice(len(splits.train), SAMPLES, replace=False)
    print(row("real (training digits)", real, judge.features(splits.train.images[pick])))
    print(f"{'  expected coverage':<22}{'':>23}{fd.expected_coverage(len(real), SAMPLES):>8.3f}")
    entries = {e["name"]: e for e in pretrained.read_index()}
    for name in MODELS:
        if name not in entries:
            print(f"{name:<22}not in pretrained/index.json")
            continue
        model = checkpoint.load(entries[name]["path"]).model
        print(row(name, real, judge.features(samples(model, splits.train.images))))
    print(f"({time.perf_counter() - tic:.0f} s)")


if __name__ == "__main__":
    main()
