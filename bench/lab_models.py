"""What the shipped lab models do, on the 500 held-out digits no model trained on.

Denoising: each DAE and the plain AE of its size at the DAE's own noise type and level,
as mean PSNR (dB) with a 95% bootstrap interval of the DAE's gain over the AE (paired by
digit, 2,000 resamples); the noise is drawn with seed 1, which the page does not use.
Sparsity: for each 128-unit SAE, the units on per digit, the dead units, the mean rho-hat
and the reconstruction error (BCE, nats per digit).

Run: python bench/lab_models.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout


from aelab import checkpoint, data, metrics, pretrained
from aelab.labs import denoising, sparsity


def main() -> None:
    shipped = {e["name"]: e for e in pretrained.read_index()}
    images = data.load_splits("mnist5k").val.images
    print(f"{'DAE':<20} {'noise':<18} {'noisy dB':>8} {'AE dB':>7} {'DAE dB':>7} {'gain [95% CI]':>20}")
    for recipe in pretrained.DENOISING_RECIPES:
        if recipe.kind != "dae":
            continue
        dae = checkpoint.load(shipped[recipe.name]["path"]).model
        ae = checkpoint.load(shipped[f"ae-{dae.latent_dim}d"]["path"]).model
        r = denoising.compare({"ae": ae, "dae": dae}, images, dae.corruption, dae.noise_level, seed=1)
        gain = r.psnr["dae"] - r.psnr["ae"]
        low, high = metrics.bootstrap_interval(gain)
        print(f"{recipe.name:<20} {dae.corruption + ' ' + format(dae.noise_level, 'g'):<18} "
              f"{r.psnr[denoising.NOISY].mean():8.1f} {r.psnr['ae'].mean():7.1f} {r.psnr['dae'].mean():7.1f} "
              f"{gain.mean():+7.1f} [{low:+.1f}, {high:+.1f}]")
    print()
    print(f"{'SAE':<26} {'units on':>8} {'dead':>5} {'mean rho-hat':>12} {'BCE':>6}")
    for recipe in pretrained.SPARSITY_RECIPES:
        model = checkpoint.load(shipped[recipe.name]["path"]).model
        stats = sparsity.model_activity(model, images)
        bce = metrics.per_image_bce(model, images).mean()
        print(f"{recipe.name:<26} {stats.active.sum(1).mean():8.1f} {int(stats.dead.sum()):5d} "
              f"{stats.rho_hat.mean():12.3f} {bce:6.1f}")


if __name__ == "__main__":
    main()
