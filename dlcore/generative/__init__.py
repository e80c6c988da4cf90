"""Generative models (VAE, GAN). Importing this registers their Keras classes for safe loading.

``REGISTERED`` holds the ``registered_name`` of every Keras class this package registers (as written in
a ``.keras`` file's config, e.g. ``"dlcore>VAE"``): the classes a safe import may accept from a file.
A saved VAE or GAN names only its own class (its networks are rebuilt from its config); the
``MinibatchStd`` layer is listed because it is registered too.
"""
from __future__ import annotations

import keras

from dlcore.generative.base import GenerativeModel
from dlcore.generative.blocks import MinibatchStd
from dlcore.generative.gan import GAN
from dlcore.generative.vae import VAE

REGISTERED: frozenset[str] = frozenset(keras.saving.get_registered_name(cls) for cls in (VAE, GAN, MinibatchStd))

__all__ = ["GAN", "REGISTERED", "VAE", "GenerativeModel", "MinibatchStd"]
