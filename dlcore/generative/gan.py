"""A DCGAN-style generative adversarial network (optionally conditional) with its own ``train_step``.

The generator turns Gaussian noise (and, when conditional, a class) into an image in [0, 1] through
transposed convolutions with batch norm; the discriminator (strided convolutions, leaky ReLU, optional
dropout) scores images as real or generated, seeing also how much the batch varies (``MinibatchStd``:
without it, a generator trained on digits soon draws one digit only, mode collapse). Each batch first
updates the discriminator on real images (target ``1 - label_smoothing``, one-sided label smoothing) and
generated ones (target 0), then the generator to make the discriminator say "real". The two have their own
optimizers, so their learning rates differ.
Logged per epoch: ``d_loss``, ``g_loss`` and the discriminator's mean probability on real and generated
images (``real_score``, ``fake_score``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from dlcore.generative import blocks
from dlcore.generative.base import GenerativeModel, unpack

METRICS = ("d_loss", "g_loss", "real_score", "fake_score")


@keras.saving.register_keras_serializable(package="dlcore")
class GAN(GenerativeModel):
    """Generator and discriminator for images shaped ``image_shape`` (height, width, channels) in [0, 1].

    Args:
        image_shape: (height, width, channels) of the images.
        latent_dim: size of the noise vector.
        n_classes: 0 for an unconditional GAN, else the number of classes given to both networks.
        filters: conv filters per block from the image side (discriminator; the generator mirrors them);
            empty for dense networks.
        units: dense layers between the noise and the first feature map (generator) and after the conv
            features (discriminator).
        label_smoothing: the discriminator's target for real images is ``1 - label_smoothing``.
        dropout: dropout after each discriminator block.
        batch_spread: give the discriminator the ``MinibatchStd`` channel.
        seed: seed of the noise drawn during training.
    """

    kind = "gan"

    def __init__(self, image_shape: Sequence[int], latent_dim: int = 32, n_classes: int = 0,
                 filters: Sequence[int] = (32, 64), units: Sequence[int] = (), label_smoothing: float = 0.1,
                 dropout: float = 0.0, batch_spread: bool = True, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(image_shape, latent_dim, n_classes, filters, units, seed, **kwargs)
        self.label_smoothing, self.dropout = float(label_smoothing), float(dropout)
        self.batch_spread = bool(batch_spread)
        self.generator = self._build_generator()
        self.discriminator = self._build_discriminator()
        self.d_optimizer: keras.optimizers.Optimizer | None = None
        self._finish_init(METRICS)

    def _build_generator(self) -> keras.Model:
        inputs, z, label = self._inputs((self.latent_dim,), "z")
        h = z if label is None else keras.layers.Concatenate(name="gen_with_label")([z, label])
        h = blocks.dense_stack(h, self.units[::-1], "relu", "gen", batch_norm=True)
        image = blocks.upsample(h, self.image_shape, self.filters, "relu", "gen", batch_norm=True)
        return keras.Model(inputs, image, name="generator")

    def _build_discriminator(self) -> keras.Model:
        inputs, image, label = self._inputs(self.image_shape, "image")
        x = image if label is None else blocks.image_with_labels(image, label, self.image_shape, "disc")
        h = blocks.downsample(x, self.image_shape, self.filters, "leaky_relu", "disc", dropout=self.dropout,
                             batch_spread=self.batch_spread)
        h = blocks.dense_stack(h, self.units, "leaky_relu", "disc")
        logit = keras.layers.Dense(1, dtype="float32", name="disc_logit")(h)
        return keras.Model(inputs, logit, name="discriminator")

    def compile(self, optimizer: Any = "adam", d_optimizer: Any = None, **kwargs: Any) -> None:
        """``optimizer`` trains the generator, ``d_optimizer`` (default: a copy) the discriminator."""
        super().compile(optimizer=optimizer, **kwargs)
        d_opt = keras.optimizers.get(d_optimizer) if d_optimizer is not None else \
            type(self.optimizer).from_config(self.optimizer.get_config())
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer) and \
                not isinstance(d_opt, keras.optimizers.LossScaleOptimizer):
            d_opt = keras.optimizers.LossScaleOptimizer(d_opt)
        self.d_optimizer = d_opt
        self.optimizer.build(self.generator.trainable_variables)  # built now: resuming loads their state
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def decode(self, z: Any, onehot: Any = None, training: bool = False) -> Any:
        """Images in [0, 1] generated from noise ``z``."""
        return self.generator(self._with_label(z, onehot), training=training)

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Generate images: ``inputs`` is ``z`` or ``[z, onehot]``."""
        z, onehot = (inputs[0], inputs[1]) if isinstance(inputs, (list, tuple)) else (inputs, None)
        return self.decode(z, onehot, training=training)

    def _critic(self, x: Any, onehot: Any, training: bool) -> Any:
        return self.discriminator(self._with_label(x, onehot), training=training)

    def _d_losses(self, x: Any, onehot: Any, training: bool) -> dict[str, Any]:
        z = keras.random.normal((keras.ops.shape(x)[0], self.latent_dim), seed=self.noise)
        fake = self.decode(z, onehot, training=training)
        real_logit = self._critic(keras.ops.cast(x, fake.dtype), onehot, training)
        fake_logit = self._critic(fake, onehot, training)
        real_target = keras.ops.full_like(real_logit, 1.0 - self.label_smoothing)
        d_loss = (keras.ops.mean(keras.ops.binary_crossentropy(real_target, real_logit, from_logits=True))
                  + keras.ops.mean(keras.ops.binary_crossentropy(keras.ops.zeros_like(fake_logit), fake_logit,
                                                                 from_logits=True)))
        return {"d_loss": d_loss, "real_score": keras.ops.mean(keras.ops.sigmoid(real_logit)),
                "fake_score": keras.ops.mean(keras.ops.sigmoid(fake_logit))}

    def _g_loss(self, x: Any, onehot: Any, training: bool) -> Any:
        z = keras.random.normal((keras.ops.shape(x)[0], self.latent_dim), seed=self.noise)
        logit = self._critic(self.decode(z, onehot, training=training), onehot, training)
        return keras.ops.mean(keras.ops.binary_crossentropy(keras.ops.ones_like(logit), logit, from_logits=True))

    def train_step(self, data: Any) -> dict[str, Any]:
        x, y = unpack(data)
        onehot = self.onehot(y)
        with tf.GradientTape() as tape:
            values = self._d_losses(x, onehot, training=True)
            scaled = self._scaled(self.d_optimizer, values["d_loss"])
        self._apply(self.d_optimizer, tape, scaled, self.discriminator.trainable_variables)
        with tf.GradientTape() as tape:
            values["g_loss"] = self._g_loss(x, onehot, training=True)
            scaled = self._scaled(self.optimizer, values["g_loss"])
        self._apply(self.optimizer, tape, scaled, self.generator.trainable_variables)
        return self._record(values)

    def test_step(self, data: Any) -> dict[str, Any]:
        """The same losses on held-out images: a discriminator that tells held-out real images apart
        (``val_d_loss`` well above ``d_loss``) has started to memorise the training set."""
        x, y = unpack(data)
        onehot = self.onehot(y)
        values = self._d_losses(x, onehot, training=False)
        values["g_loss"] = self._g_loss(x, onehot, training=False)
        return self._record(values)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "dropout": self.dropout,
                "batch_spread": self.batch_spread}
