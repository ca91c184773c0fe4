"""Load time and held-out metrics of every shipped model, as a table.

Run: python bench/pretrained_models.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import time

from aelab import checkpoint, data, pretrained
from aelab.metrics import evaluate


def main() -> None:
    held_out = {}
    print(f"{'model':<16} {'load ms':>8} {'train s':>8} {'recon_bce':>10} {'mse/pixel':>10} {'kl':>7} {'neg_elbo':>9}")
    for entry in pretrained.read_index():
        tic = time.perf_counter()
        loaded = checkpoint.load(entry["path"])
        load_ms = 1000 * (time.perf_counter() - tic)
        if entry["data"] not in held_out:
            held_out[entry["data"]] = data.load_splits(entry["data"]).val
        m = evaluate(loaded.model, held_out[entry["data"]].images)
        kl = f"{m['kl']:7.2f}" if "kl" in m else f"{'-':>7}"
        elbo = f"{m['neg_elbo']:9.2f}" if "neg_elbo" in m else f"{'-':>9}"
        print(f"{entry['name']:<16} {load_ms:8.1f} {entry.get('train_seconds', float('nan')):8.1f} "
              f"{m['recon_bce']:10.2f} {m['recon_mse_per_pixel']:10.4f} {kl} {elbo}")


if __name__ == "__main__":
    main()
