"""Budget presets of the early-exit track (data, not code).

- ``smoke``: CI, seconds per job: a 4-block ViT of width 32 on 8-pixel patches, 200 training and 60 test images,
  a few dozen steps; the numbers only check that nothing moved.
- ``default``: the embedded synthetic CIFAR-10-layout data on 2 CPU cores, 3 seeds: a 6-block ViT of width 96 on
  4-pixel patches (65 tokens of 32x32 images) trained from random init, every method's stages of
  ``head_steps`` steps; sized so that ``nox -s bench-earlyexit`` (2 jobs at a time) ends within 15 minutes (the
  README gives the measured job times).
- ``paper``: LGViT's protocol on one GPU: ViT-B/16 at 224 px from a local ImageNet checkpoint (``--weights
  PATH``), fine-tuned on CIFAR-100 for 10 epochs (the paper's base model), then 50 epochs per training stage of
  every method (LGViT's stages 1 and 2 and each baseline's one), learning rate 5e-5 and batch size 64 as in the
  paper's scripts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BUDGETS"]

BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": {
        "time_limit_s": 180.0, "memory_limit_mb": 4096, "seeds": (0,), "image_size": 32, "patch_size": 8,
        "embed_dim": 32, "depth": 4, "num_heads": 2, "mlp_ratio": 2.0, "backbone_steps": 40, "head_steps": 10,
        "batch_size": 16, "val_per_class": 2, "train_images": 200, "test_images": 60, "timing_warmup": 1,
        "timing_repeats": 3,
    },
    "default": {
        "time_limit_s": 900.0, "memory_limit_mb": 6144, "seeds": (0, 1, 2), "image_size": 32, "patch_size": 4,
        "embed_dim": 96, "depth": 6, "num_heads": 3, "mlp_ratio": 2.0, "backbone_steps": 1200, "head_steps": 160,
        "batch_size": 32, "val_per_class": 20, "timing_warmup": 3, "timing_repeats": 15,
    },
    "paper": {
        "time_limit_s": 21600.0, "memory_limit_mb": 65536, "seeds": (0, 1, 2), "device": "cuda",
        "backbone": "vit_base_patch16_224", "image_size": 224, "backbone_steps": 7800,
        "backbone_learning_rate": 5e-5, "head_steps": 39000, "head_learning_rate": 5e-5,
        "finetune_learning_rate": 5e-5, "batch_size": 64, "val_per_class": 10, "timing_warmup": 5,
        "timing_repeats": 20,
    },
}
