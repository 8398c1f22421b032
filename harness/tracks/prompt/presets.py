"""Budget presets of the prompt-learning track (data, not code).

- ``smoke``: CI, seconds per job: the 2-shot subset only, a tiny CLIP pre-trained for 60 steps, 10 prompt steps
  per training, 8 test images per class; the numbers only check that nothing moved.
- ``default``: the embedded synthetic ``SynthObjects`` set on 2 CPU cores, 3 seeds, every shot count: a tiny CLIP
  (32 px images, 8 px patches, width 96, 3 image and 2 text layers) pre-trained by the track for 800 steps of 128
  pairs on 6,000 synthetic image-caption pairs (about 2.5 minutes of one core, once), then every method's prompts
  trained for 100 steps of 16 images on the few-shot set and again on the base classes; sized so that ``nox -s
  bench-prompt`` (2 jobs at a time) ends within 15 minutes (the README gives the measured times).
- ``paper``: the protocol of CoOp, CoCoOp and MaPLe on one GPU: ViT-B/16 at 224 px from a local checkpoint
  (``--set weights=PATH``), 3 seeds, 2,000 prompt steps per training at batch size 32 (about CoOp's 200 epochs
  of 16 shots on a small dataset), learning rate 2e-3 (CoOp, CoCoOp; MaPLe uses 3.5e-3), MaPLe's prompt depth 9.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BUDGETS"]

BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": {
        "time_limit_s": 240.0, "memory_limit_mb": 4096, "seeds": (0,), "pretrain_pairs": 600, "pretrain_steps": 60,
        "steps": 10, "batch_size": 16, "test_per_class": 8,
    },
    "default": {
        "time_limit_s": 600.0, "memory_limit_mb": 4096, "seeds": (0, 1, 2), "pretrain_pairs": 6000,
        "pretrain_steps": 800, "steps": 100, "batch_size": 16, "test_per_class": 0,
    },
    "paper": {
        "time_limit_s": 21600.0, "memory_limit_mb": 65536, "seeds": (1, 2, 3), "device": "cuda",
        "model": "ViT-B-16", "image_size": 224, "context_length": 77, "steps": 2000, "batch_size": 32,
        "learning_rate": 2e-3, "prompt_depth": 9, "test_per_class": 0,
    },
}
