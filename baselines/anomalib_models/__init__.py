"""Baselines of the anomaly track that run anomalib's torch models under the harness's budget.

One subpackage per model, each exporting one :class:`harness.api.Method`:

- :mod:`~baselines.anomalib_models.patchcore`: PatchCore (memory bank, coreset, nearest neighbour).
- :mod:`~baselines.anomalib_models.padim`: PaDiM (per-patch multivariate Gaussian).
- :mod:`~baselines.anomalib_models.stfpm`: STFPM (student-teacher feature pyramid matching).
- :mod:`~baselines.anomalib_models.reverse_distillation`: Reverse Distillation (one-class bottleneck, decoder).
- :mod:`~baselines.anomalib_models.fastflow`: FastFlow (2D normalising flows on backbone features).

The shared modules hold what every model needs: uint8 images to normalised batches
(:mod:`.images`), local backbone weights (:mod:`.weights`), the seeded build / fit / batched
predict skeleton (:mod:`.detector`), the step-limited training loop (:mod:`.training`), model
outputs to arrays (:mod:`.outputs`) and the harness adapter (:mod:`.adapter`). Only
:mod:`.adapter` and the ``method`` modules import the harness.

anomalib's Lightning ``Engine``, pre-processor, post-processor (score normalisation and
thresholds), evaluator and its habit of validating on the test split are bypassed: the torch
models are built, trained and called directly, and their raw maps and scores are returned.
"""

__all__: list[str] = []
