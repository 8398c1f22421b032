"""Bottom-up clustering (BUC), with scikit-learn's agglomerative clustering as the merge step.

Lin et al., AAAI 2019, "A Bottom-Up Clustering Approach to Unsupervised Person Re-identification".

Every training image starts as its own cluster. Each epoch trains the network against a memory of one vector per
cluster (softmax over the clusters, the paper's repelled loss, temperature 0.1), then merges clusters: the
current clusters' mean embeddings are clustered by scikit-learn's ``AgglomerativeClustering`` (average linkage,
cosine distance) into ``merge_percent`` x n fewer clusters, so clusters only ever merge, as in BUC. The paper
merges 5 % of the images per stage over about 18 stages and picks the stage on a validation split; here the
budget's epochs are the stages, with an equal merge at the start of each but the first, down to a fixed
final share of the images as clusters, without a validation split. The paper's diversity regulariser (which
penalises merging large clusters) is replaced by average linkage over cluster means, which also keeps a single
cluster from swallowing the rest.

The merge step is set by ``final_share``: after the last epoch's merge there are ``final_share`` x n clusters,
reached in equal steps over the epochs (the paper's fixed 5 % per stage over its 18 stages ends near a tenth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.options import option
from harness.tracks.reid.method import ClusterMemory, ReidMethod, class_centroids, memory_step, train_epochs
from harness.vision import batches

__all__ = ["BottomUp", "merge_clusters"]


def merge_clusters(features: np.ndarray, labels: np.ndarray, n_target: int) -> np.ndarray:
    """Merge clusters (labels in ``[0, k)``) into ``n_target`` by average-linkage clustering of their means.

    Returns:
        int64 labels (n,) in ``[0, n_target)``; images of one old cluster share a new one.
    """
    from sklearn.cluster import AgglomerativeClustering

    n_clusters = int(labels.max()) + 1
    if n_target >= n_clusters:
        return labels
    centroids = class_centroids(features, labels, n_clusters)
    merged = AgglomerativeClustering(n_clusters=max(1, n_target), metric="cosine", linkage="average")
    return merged.fit_predict(centroids).astype(np.int64)[labels]


class BottomUp(ReidMethod):
    """Each image its own cluster at first; train against a cluster memory, merge the closest clusters, repeat."""

    name = "buc"
    kind = "baseline"
    paper = "Lin et al., A Bottom-Up Clustering Approach to Unsupervised Person Re-identification, AAAI 2019"

    @dataclass(frozen=True)
    class Config:
        """Options of bottom-up clustering."""

        final_share: float = option(0.15, "Clusters left after the last merge, as a share of the images.", gt=0,
                                    le=1)
        temperature: float = option(0.1, "Softmax temperature of the cluster memory.", gt=0)
        momentum: float = option(0.5, "Share of a cluster vector kept at each update.", ge=0, lt=1)

    def learn(self, train: Any) -> None:
        """Train, merge, repeat for the budget's epochs."""
        cfg = self.config
        self.new_model()
        n = len(train.images)
        state: dict[str, Any] = {"labels": np.arange(n, dtype=np.int64)}
        n_final = max(1, round(cfg.final_share * n))
        step_size = max(1, round((n - n_final) / max(1, self.budget.epochs - 1)))

        def on_epoch(epoch: int) -> None:
            features = self.features(train.images)
            if epoch > 0:
                n_now = int(state["labels"].max()) + 1
                state["labels"] = merge_clusters(features, state["labels"], max(n_final, n_now - step_size))
            labels = state["labels"]
            n_clusters = int(labels.max()) + 1
            self.log.info("epoch %d: %d clusters", epoch + 1, n_clusters)
            state["target"] = torch.from_numpy(labels).to(self.device)
            state["memory"] = ClusterMemory(class_centroids(features, labels, n_clusters), hard=False,
                                            temperature=cfg.temperature, momentum=cfg.momentum).to(self.device)

        train_epochs(self, train.images, memory_step(self, state), epochs=self.budget.epochs, on_epoch=on_epoch,
                     make_batches=lambda _e, rng: list(batches(n, self.budget.batch_size, rng)))
