"""aelab: autoencoders (AE, DAE, SAE, VAE) to train, load and explore.

The library never imports streamlit; the app lives in ``aelab.app`` and only arranges
what this package computes.
"""

__version__ = "0.1.0"
