"""Generative models (VAE, GAN). Importing this registers their Keras classes for safe loading."""
from __future__ import annotations
