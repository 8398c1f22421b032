"""Pseudo-pair based self-similarity learning, adapted to the ``reid`` track.

Wu, Liu, Zhang, Chen, Ge, Boussaid, Bennamoun, Shen, "Pseudo-Pair based Self-Similarity Learning for Unsupervised
Person Re-identification", IEEE TIP 2022, arXiv:2207.13035.

``learn``: at the start of every epoch the whole training set is embedded and every memory is reset to the
fresh features: an image-level instance memory, a part-level memory of ``n_parts`` horizontal stripes per image
(each (image, stripe) its own *patch surrogate class*) and, with the intra-similarity module, a memory of the
channel-attention local features. For the first ``warmup_epochs`` each image's only positive is itself; then
each epoch assigns *pseudo pairs* by gradient-guided similarity separation (:func:`pseudo_pairs`: each image's
similarities to the others, sorted, are cut at their steepest drop and only reciprocal partners are kept), or,
for the ``clusters`` ablation, DBSCAN on k-reciprocal Jaccard distances. Batches hold ``batch_size / 2`` anchors
and one partner of each (itself, differently augmented, when it has none). The loss of a batch is the
multi-positive InfoNCE of the embedding, of every stripe and of every local feature against its memory, plus
``intra_weight`` x the branches' diversity loss and ``inter_weight`` x the inter-similarity loss (one minus the
cosine between the stripes of each anchor and those of its partner after alignment to it), both ways.
``predict``: the track's embedding of the image and its mirror, cosine distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F  # noqa: N812

from harness.options import option
from harness.tracks.reid import neighbours
from harness.tracks.reid.method import ReidMethod, train_epochs
from harness.vision import batches, to_tensor
from methods.pseudo_pair.modules import (
    InstanceMemory,
    NetOutputs,
    PseudoPairNet,
    diversity_loss,
    part_pool,
    positive_blocks,
)

__all__ = ["LABELS", "PseudoPair", "cluster_positives", "largest_drop_partners", "mutual_partners", "pair_batches",
           "positives_matrix", "pseudo_pairs", "top_similarities"]

#: Where the positives after the warm-up come from.
LABELS = ("pairs", "clusters")


def top_similarities(features: np.ndarray, k: int, *, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most similar other images of every image, most similar first (dot products, in row blocks).

    Args:
        features: float array (n, d), L2-normalised.
        k: Candidates per image (capped at ``n - 1``).
        block: Rows per block of the similarity computation (memory: ``block x n`` floats).

    Returns:
        (indices int64 (n, k), similarities float32 (n, k)); an image is never its own candidate.
    """
    feats = np.asarray(features, dtype=np.float32)
    n = len(feats)
    k = max(0, min(k, n - 1))
    indices = np.zeros((n, k), dtype=np.int64)
    values = np.zeros((n, k), dtype=np.float32)
    if k == 0:
        return indices, values
    for start in range(0, n, block):
        sims = feats[start : start + block] @ feats.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        indices[start : start + len(sims)] = top
        values[start : start + len(sims)] = np.take_along_axis(sims, top, axis=1)
    return indices, values


def largest_drop_partners(indices: np.ndarray, similarities: np.ndarray) -> list[np.ndarray]:
    """Each image's candidates before the steepest drop of its sorted similarity curve.

    The gradient of the curve ``s_1 >= s_2 >= ... >= s_k`` is ``s_{j+1} - s_j``; the cut falls at its most
    negative value, so the candidates ``1..j*`` (at least one) are the image's partners.

    Args:
        indices: int (n, k) candidates, most similar first (:func:`top_similarities`).
        similarities: float (n, k), their similarities, descending along each row.

    Returns:
        One int64 array of partners per image (empty when ``k < 2``: no curve to cut).
    """
    n, k = indices.shape
    if k < 2:
        return [np.zeros(0, dtype=np.int64) for _ in range(n)]
    gradient = np.diff(similarities.astype(np.float64), axis=1)  # (n, k - 1), <= 0
    cut = np.argmin(gradient, axis=1) + 1
    return [indices[i, : cut[i]].astype(np.int64) for i in range(n)]


def mutual_partners(partners: list[np.ndarray]) -> list[np.ndarray]:
    """Keep ``j`` among the partners of ``i`` only if ``i`` is among those of ``j``; sorted int64 arrays."""
    sets = [set(p.tolist()) for p in partners]
    return [np.array(sorted(j for j in sets[i] if i in sets[j] and j != i), dtype=np.int64)
            for i in range(len(partners))]


def pseudo_pairs(features: np.ndarray, top_k: int) -> list[np.ndarray]:
    """Gradient-guided similarity separation: the reciprocal partners of every image among its ``top_k``."""
    indices, sims = top_similarities(features, top_k)
    return mutual_partners(largest_drop_partners(indices, sims))


def positives_matrix(partners: list[np.ndarray]) -> sp.csr_matrix:
    """Boolean (n, n) CSR matrix of each image's positives: itself and its partners."""
    n = len(partners)
    rows = np.concatenate([np.full(len(p) + 1, i) for i, p in enumerate(partners)]) if n else np.zeros(0, int)
    cols = np.concatenate([np.concatenate([[i], p]) for i, p in enumerate(partners)]) if n else np.zeros(0, int)
    return sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n, n))


def cluster_positives(labels: np.ndarray) -> list[np.ndarray]:
    """Partners from cluster labels: the other members of one's cluster; none for an outlier (``-1``)."""
    members: dict[int, np.ndarray] = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels[labels >= 0])}
    return [np.zeros(0, dtype=np.int64) if c < 0 else members[int(c)][members[int(c)] != i].astype(np.int64)
            for i, c in enumerate(labels)]


def pair_batches(positives: sp.csr_matrix, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of ``batch_size // 2`` anchors followed by one partner of each (the anchor itself when none).

    Half of the images, in a random order, are the anchors of an epoch, so an epoch has about ``n / batch_size``
    batches of about one image in two as anchor and one as partner.
    """
    n = positives.shape[0]
    half = max(1, batch_size // 2)
    anchors = rng.permutation(n)[: math.ceil(n / 2)]
    out = []
    for start in range(0, len(anchors), half):
        chunk = anchors[start : start + half]
        partners = np.empty_like(chunk)
        for r, i in enumerate(chunk):
            row = positives.indices[positives.indptr[i] : positives.indptr[i + 1]]
            row = row[row != i]
            partners[r] = rng.choice(row) if len(row) else i
        out.append(np.concatenate([chunk, partners]))
    return out


class PseudoPair(ReidMethod):
    """Patch surrogate classes, then gradient-guided pseudo pairs; intra- and inter-similarity learning."""

    name = "pseudo-pair"
    kind = "method"
    paper = ("Wu et al., Pseudo-Pair based Self-Similarity Learning for Unsupervised Person Re-identification, "
             "IEEE TIP 2022 (arXiv 2207.13035)")

    @dataclass(frozen=True)
    class Config:
        """Options of pseudo-pair self-similarity learning; the ablations override the first three."""

        intra_weight: float = option(1.0, "Weight of the intra-similarity losses (0: module off).", ge=0)
        inter_weight: float = option(1.0, "Weight of the inter-similarity alignment loss (0: module off).", ge=0)
        labels: str = option("pairs", "pairs: gradient-guided pseudo pairs; clusters: DBSCAN pseudo labels "
                             "on Jaccard distances (ablation).", choices=LABELS)
        warmup_epochs: int = option(1, "Epochs of patch-surrogate-class training before pseudo labels start.", ge=0)
        n_parts: int = option(4, "Horizontal stripes per image (patch surrogate classes).", ge=1)
        n_branches: int = option(3, "Channel-attention branches of the intra-similarity module.", ge=2)
        top_k: int = option(20, "Candidates per image whose similarity curve is cut at its steepest drop.", ge=2)
        part_weight: float = option(1.0, "Weight of the stripe (patch surrogate class) InfoNCE loss.", ge=0)
        diversity_weight: float = option(1.0, "Weight of the diversity loss within the intra-similarity losses.",
                                         ge=0)
        temperature: float = option(0.05, "InfoNCE temperature of every memory.", gt=0)
        momentum: float = option(0.2, "Share of a memory vector kept at each update.", ge=0, lt=1)
        k1: int = option(20, "clusters: neighbours of the k-reciprocal test (capped at a tenth of the images).",
                         ge=2)
        eps: float = option(0.5, "clusters: DBSCAN radius on the Jaccard distance.", gt=0, lt=1)

    def learn(self, train: Any) -> None:
        """Reset the memories and the pseudo labels each epoch; train on anchor + partner batches."""
        cfg = self.config
        net = self.new_model()
        torch.manual_seed(self.seed + 1)
        branches = cfg.n_branches if cfg.intra_weight > 0 else 0
        self.model = PseudoPairNet(net, n_parts=cfg.n_parts, n_branches=branches,
                                   inter=cfg.inter_weight > 0).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.budget.learning_rate, weight_decay=5e-4)
        images = train.images
        n = len(images)
        #: Per epoch: the pseudo positives (CSR, diagonal included) the epoch trained with (a diagnostic).
        self.pseudo_history: list[sp.csr_matrix] = []
        state: dict[str, Any] = {}

        def on_epoch(epoch: int) -> None:
            feats = self._extract_all(images)
            if epoch < cfg.warmup_epochs:
                partners = [np.zeros(0, dtype=np.int64) for _ in range(n)]
                how = "patch surrogate classes only"
            elif cfg.labels == "pairs":
                partners = pseudo_pairs(feats["embedding"], cfg.top_k)
                how = "pseudo pairs"
            else:
                k1 = max(2, min(cfg.k1, n // 10))
                distances = neighbours.jaccard_distances(feats["embedding"], k1=k1, k2=min(6, k1))
                partners = cluster_positives(neighbours.dbscan_labels(distances, eps=cfg.eps, min_samples=4))
                how = "clusters"
            positives = positives_matrix(partners)
            self.pseudo_history.append(positives)
            paired = sum(len(p) > 0 for p in partners)
            self.log.info("epoch %d: %s, %d of %d images with partners (%.2f each on average)", epoch + 1, how,
                          paired, n, sum(len(p) for p in partners) / max(1, paired))
            state["positives"] = positives
            memory = {"temperature": cfg.temperature, "momentum": cfg.momentum}
            state["global"] = InstanceMemory(feats["embedding_t"], **memory).to(self.device)
            state["parts"] = InstanceMemory(feats["parts"], **memory).to(self.device)
            if self.model.intra is not None:
                state["local"] = InstanceMemory(feats["local"], **memory).to(self.device)

        def step(x: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
            out = self.model.outputs(x)
            pos = torch.from_numpy(state["positives"][rows].toarray()).to(self.device)
            index = torch.from_numpy(rows).to(self.device)
            loss = state["global"].loss(out.embedding, pos)
            loss = loss + cfg.part_weight * state["parts"].loss(out.parts.flatten(0, 1),
                                                                positive_blocks(pos, cfg.n_parts))
            if self.model.intra is not None:
                intra = state["local"].loss(out.local.flatten(0, 1), positive_blocks(pos, branches))
                loss = loss + cfg.intra_weight * (intra + cfg.diversity_weight * diversity_loss(out.attention))
            if self.model.inter is not None:
                loss = loss + cfg.inter_weight * self._inter_loss(out)
            state["global"].update(out.embedding, index)
            state["parts"].update(out.parts.flatten(0, 1), _block_index(index, cfg.n_parts))
            if self.model.intra is not None:
                state["local"].update(out.local.flatten(0, 1), _block_index(index, branches))
            return loss

        train_epochs(self, images, step, epochs=self.budget.epochs, on_epoch=on_epoch,
                     make_batches=lambda _e, rng: pair_batches(state["positives"], self.budget.batch_size, rng))

    def _inter_loss(self, out: NetOutputs) -> torch.Tensor:
        """Mean over pairs, both ways, and stripes of 1 - cos(stripe of a, stripe of b aligned to a)."""
        half = len(out.features) // 2
        a, b = out.features[:half], out.features[half:]
        n_parts = self.config.n_parts
        total = a.new_zeros(())
        for first, second in ((a, b), (b, a)):
            reduced, gathered = self.model.inter(first, second)
            cos = F.cosine_similarity(part_pool(reduced, n_parts), part_pool(gathered, n_parts), dim=2)
            total = total + (1.0 - cos).mean()
        return total / 2

    @torch.no_grad()
    def _extract_all(self, images: np.ndarray) -> dict[str, Any]:
        """Normalised embeddings, stripe and local features of every image, in eval mode.

        The mirror is left out here (it is averaged in at test time only): this pass runs every epoch and costs
        a quarter of the training time with it.
        """
        model = self.model
        model.eval()
        chunks: dict[str, list[torch.Tensor]] = {"embedding": [], "parts": [], "local": []}
        for rows in batches(len(images), self.budget.batch_size):
            out = model.outputs(to_tensor(images[rows], self.device))
            chunks["embedding"].append(F.normalize(out.embedding, dim=1))
            chunks["parts"].append(F.normalize(out.parts, dim=2).flatten(0, 1))
            if out.local is not None:
                chunks["local"].append(F.normalize(out.local, dim=2).flatten(0, 1))
        model.train()
        found: dict[str, Any] = {k: torch.cat(v) for k, v in chunks.items() if v}
        found["embedding_t"] = found["embedding"]
        found["embedding"] = found["embedding"].float().cpu().numpy()
        return found


def _block_index(index: torch.Tensor, n_blocks: int) -> torch.Tensor:
    """Memory rows ``i * n_blocks + q`` of the blocks of images ``index`` (b,), image-major -> (b * n_blocks,)."""
    return (index[:, None] * n_blocks + torch.arange(n_blocks, device=index.device)[None, :]).reshape(-1)
