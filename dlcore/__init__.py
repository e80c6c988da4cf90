"""dlcore: the engine behind the interpretable deep learning dashboard.

Importing this package is cheap: it never imports TensorFlow. Submodules that need Keras import it
themselves (``dlcore.models``, ``dlcore.training``, ``dlcore.store``, ``dlcore.explain``).
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
