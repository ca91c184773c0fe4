"""Continuity and completeness of every shipped model, on the embedded digits' held-out split.

Lower is better everywhere. Continuity: jump ratios along 500 held-out line pairs (32
steps) and local sensitivity; completeness: 2,000 codes from each model's native sampler
(VAE: N(0, I); others: a Gaussian fitted to their codes), judged by the shipped
classifier's features (Frechet distance) and by how many land in holes.

Run: python bench/regularity.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from aelab import checkpoint, data, pretrained, regularity  # noqa: E402
from aelab.judge import load_judge  # noqa: E402

COLUMNS = [("jump med", "continuity", "jump_ratio_median"), ("jump p90", "continuity", "jump_ratio_p90"),
           ("sens med", "continuity", "sensitivity_median"), ("sens p99", "continuity", "sensitivity_p99"),
           ("FD", "completeness", "frechet_distance"), ("FD recon", "completeness", "frechet_distance_reconstructions"),
           ("holes", "completeness", "hole_fraction")]


def main() -> None:
    splits = data.load_splits("mnist5k")
    judge, info = load_judge(pretrained.judge_dir())
    print(f"held-out: {len(splits.val)} digits; judge accuracy {info.get('val_accuracy', float('nan')):.3f}")
    print(f"{'model':<16}{'sampler':>9}" + "".join(f"{c[0]:>10}" for c in COLUMNS) + f"{'seconds':>9}")
    for entry in pretrained.read_index():
        model = checkpoint.load(entry["path"]).model
        tic = time.perf_counter()
        figures = regularity.measure(model, splits.train.images, splits.val.images, judge)
        cells = "".join(f"{figures[group][key]:>10.3f}" for _, group, key in COLUMNS)
        print(f"{entry['name']:<16}{figures['completeness']['sampler']:>9}{cells}{time.perf_counter() - tic:>9.1f}")


if __name__ == "__main__":
    main()
