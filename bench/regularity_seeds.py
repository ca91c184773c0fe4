"""Is the 2-D VAE's edge over the plain AE a property of the pair, or of one lucky seed?

Trains the shipped ae-2d and vae-2d recipes again with other seeds (initialisation and
batch order; architecture, data and schedule unchanged), measures each pair the way the
"VAE vs AE" page does, and counts on how many seeds each measure goes to the VAE (a 95%
bootstrap interval of the difference that excludes 0; else a tie). Seed 0 with the recipe as
it is rebuilds the shipped pair
(one thread, denormals kept, as ``python -m aelab pretrained`` trains; bit for bit on the kind
of CPU that built them, while another CPU's floating point gives a slightly different pair); ``--fused`` trains
as the app and ``python -m aelab train`` do instead: fused Adam, denormals flushed.

``--betas`` asks the same of the beta caption instead: the shipped 2-D VAE recipe at every
shipped beta, per seed, and whether each of the caption's claims holds on that seed
(sensitivity falls at every step up in beta, or at least from the lowest beta to the highest;
the highest beta reconstructs worst; the lowest beta's samples have the lowest density).

Run: python bench/regularity_seeds.py [--seeds 0 1 2 3 4] [--fused] [--betas]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import torch  # noqa: E402

from aelab import data, pretrained, regularity  # noqa: E402
from aelab.judge import load_judge  # noqa: E402
from aelab.metrics import evaluate  # noqa: E402
from aelab.train import configure_cpu, train_model  # noqa: E402

PAIR = ("ae-2d", "vae-2d")


def trained(recipe, splits, seed: int, fused: bool, **model_changes):
    config = dataclasses.replace(recipe.training, seed=seed, fused_adam=fused or recipe.training.fused_adam)
    model, _ = train_model(recipe.kind, recipe.model | model_changes, splits.train.images, splits.val.images, config)
    return model


def beta_claims(recipes, splits, judge, seeds: list[int], fused: bool) -> None:
    betas = sorted(r.model["beta"] for r in recipes.values() if r.kind == "vae" and r.model["latent_dim"] == 2)
    recipe = recipes["vae-2d"]
    held = Counter()
    print(f"{'seed':<6}{'beta':>6}{'recon bce':>11}{'sens med':>10}{'density':>9}")
    for seed in seeds:
        rows = {}
        for beta in betas:
            model = trained(recipe, splits, seed, fused, beta=beta)
            figures = regularity.measure(model, splits.train.images, splits.val.images, judge)
            recon = evaluate(model, splits.val.images)["recon_bce"]
            rows[beta] = (recon, figures["continuity"]["sensitivity_data_median"],
                          figures["completeness"]["density_mean"])
            print(f"{seed:<6}{beta:>6g}{rows[beta][0]:>11.2f}{rows[beta][1]:>10.2f}{rows[beta][2]:>9.2f}", flush=True)
        sensitivity = [rows[b][1] for b in betas]
        claims = {"sensitivity falls as beta rises": sensitivity == sorted(sensitivity, reverse=True),
                  "sensitivity: highest beta < lowest": sensitivity[-1] < sensitivity[0],
                  "highest beta reconstructs worst": max(rows, key=lambda b: rows[b][0]) == betas[-1],
                  "lowest beta has the lowest density": min(rows, key=lambda b: rows[b][2]) == betas[0]}
        held.update(claim for claim, ok in claims.items() if ok)
        print(f"{'':<6}" + "; ".join(f"{claim}: {'yes' if ok else 'NO'}" for claim, ok in claims.items()))
    print(f"\nthe beta caption's claims, held on how many of {len(seeds)} seeds:")
    for claim in claims:  # the last seed's dict: every claim, in order
        print(f"  {claim:<38}{held[claim]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--fused", action="store_true", help="fused Adam, as the app trains (default: as shipped)")
    parser.add_argument("--betas", action="store_true", help="check the beta caption's claims instead")
    args = parser.parse_args()
    if args.fused:
        configure_cpu(threads=1)  # exactly as the app trains: one thread, denormals flushed
    else:
        torch.set_num_threads(1)  # as the shipped models were built: denormals kept
    splits = data.load_splits("mnist5k")
    judge, _ = load_judge(pretrained.judge_dir())
    recipes = {r.name: r for r in pretrained.RECIPES}
    if args.betas:
        beta_claims(recipes, splits, judge, args.seeds, args.fused)
        return
    wins: dict[str, Counter] = {regularity.label(m): Counter() for m in regularity.MEASURES}
    print(f"{'seed':<6}{'measure':<28}{'AE':>10}{'VAE':>10}  more regular")
    for seed in args.seeds:
        tic, figures = time.perf_counter(), {}
        for name in PAIR:
            model = trained(recipes[name], splits, seed, args.fused)
            figures[name] = regularity.measure(model, splits.train.images, splits.val.images, judge)
        for key, row in regularity.compare(figures["ae-2d"], figures["vae-2d"], ("AE", "VAE")).items():
            wins[key][row["more regular"]] += 1
            print(f"{seed:<6}{key:<28}{row['first']:>10.3f}{row['second']:>10.3f}  {row['more regular']}")
        print(f"{'':<6}(trained and measured in {time.perf_counter() - tic:.0f} s)")
    print(f"\nover {len(args.seeds)} seeds ({'fused' if args.fused else 'unfused, as shipped'} Adam):")
    for key, counts in wins.items():
        print(f"  {key:<28}" + ", ".join(f"{who} {n}" for who, n in counts.most_common()))


if __name__ == "__main__":
    main()
