"""What each lab computes, importable from a notebook: the app's lab pages only arrange these.

- :mod:`aelab.labs.denoising`: corrupt held-out digits, reconstruct them, score by PSNR.
- :mod:`aelab.labs.sparsity`: code activity, dead units, rho_hat and the learned features.
- :mod:`aelab.labs.anomaly`: reconstruction error as an anomaly score, ROC and AUC.
- :mod:`aelab.labs.ood`: out-of-distribution image sets generated offline.
"""
