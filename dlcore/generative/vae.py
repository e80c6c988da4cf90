"""A variational autoencoder (dense or convolutional, optionally conditional) with its own ``train_step``.

The encoder maps an image (and, when conditional, its class) to the mean and log-variance of a Gaussian
over the latent space; the decoder maps a latent code (and class) back to an image in [0, 1]. Training
minimises the summed binary cross-entropy of the reconstruction plus ``beta`` times the KL divergence to
N(0, I); both parts are logged every epoch (``reconstruction_loss``, ``kl_loss``) with their sum (``loss``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from dlcore.generative import blocks
from dlcore.generative.base import GenerativeModel, unpack


@keras.saving.register_keras_serializable(package="dlcore")
class VAE(GenerativeModel):
    """Variational autoencoder for images shaped ``input_shape`` (height, width, channels) in [0, 1].

    Args:
        image_shape: (height, width, channels) of the images.
        latent_dim: size of the latent code.
        beta: weight of the KL term. 1 is the plain VAE; more gives a smoother, blurrier latent space.
            On small grey images (digits) the summed cross-entropy of grey pixels rewards detail so little
            that at 1 the code carries under 3 nats and every sample looks like its class average; 0.5
            (the project's default) doubles that, with sharper samples and reconstructions.
        n_classes: 0 for an unconditional VAE, else the number of classes given to encoder and decoder.
        filters: conv filters per block from the image side; empty for a dense VAE.
        units: dense layer sizes between the conv features and the latent code.
        activation: hidden activation.
        seed: seed of the noise used for the reparameterisation during training.
    """

    kind = "vae"

    def __init__(self, image_shape: Sequence[int], latent_dim: int = 8, beta: float = 0.5, n_classes: int = 0,
                 filters: Sequence[int] = (16, 32), units: Sequence[int] = (64,), activation: str = "relu",
                 seed: int = 0, **kwargs: Any) -> None:
        super().__init__(image_shape, latent_dim, n_classes, filters, units, seed, **kwargs)
        self.beta, self.activation = float(beta), activation
        self.encoder = self._build_encoder()
        self.decoder = self._build_decoder()
        self._finish_init(("loss", "reconstruction_loss", "kl_loss"))

    def _build_encoder(self) -> keras.Model:
        inputs, image, label = self._inputs(self.image_shape, "image")
        x = image if label is None else blocks.image_with_labels(image, label, self.image_shape, "enc")
        h = blocks.downsample(x, self.image_shape, self.filters, self.activation, "enc")
        if label is not None:
            h = keras.layers.Concatenate(name="enc_with_label")([h, label])
        h = blocks.dense_stack(h, self.units, self.activation, "enc")
        mean = keras.layers.Dense(self.latent_dim, dtype="float32", name="z_mean")(h)
        log_var = keras.layers.Dense(self.latent_dim, dtype="float32", name="z_log_var")(h)
        return keras.Model(inputs, [mean, log_var], name="encoder")

    def _build_decoder(self) -> keras.Model:
        inputs, z, label = self._inputs((self.latent_dim,), "z")
        h = z if label is None else keras.layers.Concatenate(name="dec_with_label")([z, label])
        h = blocks.dense_stack(h, self.units[::-1], self.activation, "dec")
        image = blocks.upsample(h, self.image_shape, self.filters, self.activation, "dec")
        return keras.Model(inputs, image, name="decoder")

    def encode(self, x: Any, onehot: Any = None, training: bool = False) -> tuple[Any, Any]:
        """Mean and log-variance of the latent code of images ``x``."""
        return self.encoder(self._with_label(x, onehot), training=training)

    def decode(self, z: Any, onehot: Any = None, training: bool = False) -> Any:
        """Images in [0, 1] for latent codes ``z``."""
        return self.decoder(self._with_label(z, onehot), training=training)

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Reconstruct images from their latent means: ``inputs`` is ``x`` or ``[x, onehot]``."""
        x, onehot = (inputs[0], inputs[1]) if isinstance(inputs, (list, tuple)) else (inputs, None)
        mean, _ = self.encode(x, onehot, training=training)
        return self.decode(mean, onehot, training=training)

    def _loss_terms(self, x: Any, y: Any, training: bool) -> dict[str, Any]:
        onehot = self.onehot(y)
        mean, log_var = self.encode(x, onehot, training=training)
        eps = keras.random.normal(keras.ops.shape(mean), seed=self.noise)
        z = mean + keras.ops.exp(0.5 * log_var) * eps
        recon = self.decode(z, onehot, training=training)
        x = keras.ops.cast(x, recon.dtype)
        per_pixel = keras.ops.binary_crossentropy(x, recon)
        reconstruction = keras.ops.mean(keras.ops.sum(per_pixel, axis=(1, 2, 3)))
        kl = keras.ops.mean(keras.ops.sum(-0.5 * (1 + log_var - mean**2 - keras.ops.exp(log_var)), axis=1))
        return {"loss": reconstruction + self.beta * kl, "reconstruction_loss": reconstruction, "kl_loss": kl}

    def train_step(self, data: Any) -> dict[str, Any]:
        x, y = unpack(data)
        with tf.GradientTape() as tape:
            losses = self._loss_terms(x, y, training=True)
            scaled = self._scaled(self.optimizer, losses["loss"])
        self._apply(self.optimizer, tape, scaled, self.trainable_weights)
        return self._record(losses)

    def test_step(self, data: Any) -> dict[str, Any]:
        x, y = unpack(data)
        return self._record(self._loss_terms(x, y, training=False))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta": self.beta, "activation": self.activation}
