"""Transfer learning must visibly help: the shipped base fine-tuned on 100 images of new data beats both the
base as it is and the same architecture trained from scratch on those 100 images for as many epochs.
The same experiment over more seeds: ``python bench/finetune_transfer.py``."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.finetune_transfer import transfer


@pytest.mark.slow
def test_fine_tuning_the_shipped_base_beats_no_tuning_and_training_from_scratch(tmp_path: Path) -> None:
    scores = transfer(seed=0, limit=100, epochs=10, root=str(tmp_path))
    assert scores["after"] >= 0.75, scores
    assert scores["after"] - scores["before"] >= 0.2, scores
    assert scores["after"] - scores["scratch"] >= 0.15, scores
