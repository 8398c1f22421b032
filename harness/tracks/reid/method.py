"""What the track's learned methods share: the base class that hides labels, one network, one training recipe.

:class:`ReidMethod` removes the training identities (unless the class is the supervised reference,
``uses_identities = True``) and the cameras (unless ``uses_cameras = True``) before a method sees the data, so
the unsupervised protocol holds by construction. Every learned method builds the same network
(:class:`EmbeddingNet`: the budget's backbone at the seed's init or the budget's checkpoint, average + max
pooling, a linear embedding with a batch-norm neck), trains it with Adam and a cosine schedule for the budget's
epochs on the same augmentation (:func:`augment`; the unsupervised methods with the budget's photometric
``jitter``, a stand-in for the camera changes that an ImageNet-initialised network has partly learnt to
ignore and a randomly initialised one has not), and returns L2-normalised embeddings of the image and its
mirror compared by cosine distance (:func:`extract`), so rows differ by how they find their supervision.

:class:`ClusterMemory` is the cluster-level memory of Cluster-Contrast (Dai et al., ACCV 2022) and of the
bottom-up baseline: one unit vector per pseudo class, an InfoNCE loss against all of them, a momentum update.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from harness.api import Budget, Context, Method, Predictions
from harness.tracks.reid.track import visible_to
from harness.vision import FeatureBackbone, batches, build_backbone, cosine_lr, to_tensor

__all__ = ["ClusterMemory", "EmbeddingNet", "ReidMethod", "augment", "balanced_batches", "class_centroids", "extract",
           "memory_step", "train_epochs"]


class EmbeddingNet(nn.Module):
    """Backbone, average + max pooling, a linear embedding and a batch-norm neck.

    ``forward`` returns the embedding after the neck (what losses and retrieval use) and the feature map (for
    methods that look at parts of it).
    """

    def __init__(self, backbone: FeatureBackbone, embedding_dim: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.embed = nn.Linear(backbone.out_channels, embedding_dim, bias=False)
        self.neck = nn.BatchNorm1d(embedding_dim)
        self.embedding_dim = embedding_dim

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        """Average + max pooling of a feature map (n, C, h, w) -> (n, C)."""
        return features.mean(dim=(2, 3)) + features.amax(dim=(2, 3))

    def head(self, pooled: torch.Tensor) -> torch.Tensor:
        """Embedding (n, d) of pooled features (n, C)."""
        return self.neck(self.embed(pooled))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (embedding (n, d), feature map (n, C, h, w))."""
        features = self.backbone(x)
        return self.head(self.pool(features)), features


def augment(images: np.ndarray, rng: np.random.Generator, *, pad: int = 4, erase: float = 0.5,
            jitter: float = 0.0) -> np.ndarray:
    """Training augmentation of a uint8 batch (n, H, W, 3): photometric jitter, flips, shifted crops, erasing.

    With ``jitter`` > 0 each image first gets a random gain (``1 +- jitter``), white balance (per-channel gains
    ``1 +- jitter / 2``) and saturation (``1 +- jitter``): what changes between two cameras. Half the images are
    mirrored; each is padded by ``pad`` pixels (edge values) and cropped back at a random offset; with
    probability ``erase`` a random rectangle (2-20 % of the area) is filled with noise (Zhong et al., AAAI
    2020), as in torchreid's and Cluster-Contrast's default transforms.
    """
    n, height, width, _ = images.shape
    out = images.copy()
    if jitter > 0:
        x = out.astype(np.float32)
        gain = rng.uniform(1 - jitter, 1 + jitter, (n, 1, 1, 1))
        balance = rng.uniform(1 - jitter / 2, 1 + jitter / 2, (n, 1, 1, 3))
        grey = x.mean(axis=3, keepdims=True)
        saturation = rng.uniform(1 - jitter, 1 + jitter, (n, 1, 1, 1))
        x = (grey + (x - grey) * saturation) * gain * balance
        out = np.clip(x, 0, 255).astype(np.uint8)
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    if pad:
        padded = np.pad(out, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
        dy = rng.integers(0, 2 * pad + 1, n)
        dx = rng.integers(0, 2 * pad + 1, n)
        for i in range(n):
            out[i] = padded[i, dy[i] : dy[i] + height, dx[i] : dx[i] + width]
    for i in np.flatnonzero(rng.random(n) < erase):
        area = rng.uniform(0.02, 0.2) * height * width
        aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
        h = min(height, round(math.sqrt(area * aspect)))
        w = min(width, round(math.sqrt(area / aspect)))
        y, x = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
        out[i, y : y + h, x : x + w] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return out


@torch.no_grad()
def extract(model: EmbeddingNet, images: np.ndarray, batch_size: int, device: torch.device) -> np.ndarray:
    """L2-normalised embeddings (n, d) float32: the mean of each image's and its mirror's, in eval mode."""
    was_training = model.training
    model.eval()
    out = []
    for rows in batches(len(images), batch_size):
        x = to_tensor(images[rows], device)
        emb = model(x)[0] + model(torch.flip(x, dims=(3,)))[0]
        out.append(F.normalize(emb, dim=1).float().cpu())
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, model.embedding_dim), dtype=np.float32)


class ClusterMemory(nn.Module):
    """One unit vector per pseudo class; InfoNCE of embeddings against all of them; momentum update.

    Args:
        centroids: float array (n_classes, d), the initial vectors (normalised here).
        temperature: Softmax temperature of the loss (0.05 in Cluster-Contrast).
        momentum: Share of the old vector kept at each update (0.1 in Cluster-Contrast).
        hard: Update each class with its least similar sample of the batch (Cluster-Contrast's hard
            instance memory) rather than the batch mean.
    """

    def __init__(self, centroids: np.ndarray, *, temperature: float = 0.05, momentum: float = 0.1,
                 hard: bool = True) -> None:
        super().__init__()
        vectors = F.normalize(torch.as_tensor(np.asarray(centroids), dtype=torch.float32), dim=1)
        self.register_buffer("vectors", vectors)
        self.temperature = temperature
        self.momentum = momentum
        self.hard = hard

    def loss(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """InfoNCE (cross-entropy over the classes) of normalised ``embeddings`` (n, d) with ``labels`` (n,)."""
        logits = F.normalize(embeddings, dim=1) @ self.vectors.clone().T / self.temperature  # update() is in place
        return F.cross_entropy(logits, labels)

    @torch.no_grad()
    def update(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        """Move each class's vector toward its samples of the batch (hardest one, or their mean)."""
        feats = F.normalize(embeddings.detach().float(), dim=1)
        for label in torch.unique(labels):
            rows = feats[labels == label]
            if self.hard:
                target = rows[torch.argmin(rows @ self.vectors[label])]
            else:
                target = rows.mean(dim=0)
            vector = self.momentum * self.vectors[label] + (1 - self.momentum) * target
            self.vectors[label] = F.normalize(vector, dim=0)


def memory_step(method: ReidMethod, state: dict[str, Any]) -> Any:
    """The ``step(x, rows)`` of a method trained against a cluster memory (Cluster-Contrast, bottom-up).

    ``state["memory"]`` (a :class:`ClusterMemory`) and ``state["target"]`` (int64 tensor of every training
    image's pseudo label, on the device) may be replaced between epochs; each step takes the InfoNCE loss of the
    batch's embeddings, then moves the memory toward them.
    """

    def step(x: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        y = state["target"][torch.from_numpy(rows).to(method.device)]
        embedding = method.model(x)[0]
        loss = state["memory"].loss(embedding, y)
        state["memory"].update(embedding, y)
        return loss

    return step


def class_centroids(features: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean feature (n_classes, d) of each label in ``[0, n_classes)``."""
    sums = np.zeros((n_classes, features.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, features)
    counts = np.bincount(labels, minlength=n_classes)[:, None]
    return (sums / np.maximum(counts, 1)).astype(np.float32)


def balanced_batches(labels: np.ndarray, batch_size: int, rng: np.random.Generator, *,
                     per_class: int = 4) -> list[np.ndarray]:
    """Batches of ``batch_size // per_class`` classes with up to ``per_class`` images each (PK sampling).

    Every row labelled ``>= 0`` appears about once per epoch; classes with fewer images repeat some. Rows
    labelled ``-1`` (outliers) are left out.
    """
    classes = [np.flatnonzero(labels == c) for c in np.unique(labels[labels >= 0])]
    chunks = []
    for rows in classes:
        rows = rng.permutation(rows)
        if len(rows) < per_class:
            rows = np.concatenate([rows, rng.choice(rows, per_class - len(rows))])
        chunks += [rows[i : i + per_class] for i in range(0, len(rows) - per_class + 1, per_class)]
    order = rng.permutation(len(chunks))
    per_batch = max(1, batch_size // per_class)
    return [np.concatenate([chunks[j] for j in order[i : i + per_batch]]) for i in range(0, len(order), per_batch)]


def train_epochs(method: ReidMethod, images: np.ndarray, step: Any, *, epochs: int, make_batches: Any,
                 on_epoch: Any = None, name: str = "epoch") -> None:
    """The training loop every learned method shares: Adam, cosine decay, augmentation, a loss per batch.

    Args:
        method: The method (its ``model``, ``optimizer``, ``budget``, ``device``, ``seed`` and ``log``).
        images: uint8 training images (n, H, W, 3).
        step: ``step(x, rows) -> loss`` for an augmented batch tensor ``x`` of the rows ``rows``.
        epochs: Epochs to run.
        make_batches: ``make_batches(epoch, rng) -> list of row arrays`` (called after ``on_epoch``).
        on_epoch: ``on_epoch(epoch)``, called before each epoch (e.g. to recompute pseudo labels), or None.
        name: What the log calls an epoch.
    """
    rng = np.random.default_rng(method.seed + 7)
    # The schedule follows the share of training done, not a step count: a sampler may yield fewer batches
    # (outliers left out) or more than n / batch_size per epoch, and the rate must still decay to 0 at the end.
    resolution = 100_000
    expected_steps = max(1, epochs * math.ceil(len(images) / method.budget.batch_size))
    warmup = round(resolution * min(50, expected_steps // 10) / expected_steps)
    jitter = method.budget.jitter if method.uses_jitter else 0.0
    for epoch in range(epochs):
        if on_epoch is not None:
            on_epoch(epoch)
        method.model.train()
        total, seen = 0.0, 0
        found = [rows for rows in make_batches(epoch, rng) if len(rows) >= 2]
        for i, rows in enumerate(found):
            progress = round(resolution * (epoch + i / len(found)) / epochs)
            cosine_lr(method.optimizer, method.budget.learning_rate, progress, resolution, warmup=warmup)
            x = to_tensor(augment(images[rows], rng, jitter=jitter), method.device)
            loss = step(x, rows)
            method.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            method.optimizer.step()
            total, seen = total + float(loss.detach()) * len(rows), seen + len(rows)
        method.log.info("%s %d/%d: loss %.4f", name, epoch + 1, epochs, total / max(1, seen))


class ReidMethod(Method):
    """Base of the track's methods: hides identities and cameras unless declared, embeds query and gallery.

    Subclasses implement :meth:`learn` (train ``self.model`` or whatever they need from a :class:`ReidTrain`
    whose ``pids`` is None, and ``camids`` None unless ``uses_cameras``) and may override :meth:`embed`
    (default: :func:`extract` with ``self.model``) and :attr:`distance`.
    """

    track = "reid"
    #: True for the supervised reference only: the training identities reach :meth:`learn`.
    uses_identities: ClassVar[bool] = False
    #: True when the method uses camera ids (training and test); the leaderboard names such methods.
    uses_cameras: ClassVar[bool] = False
    #: False for a method that trains without the budget's photometric ``jitter`` (the supervised reference).
    uses_jitter: ClassVar[bool] = True
    #: Distance between the embeddings :meth:`embed` returns.
    distance: ClassVar[str] = "cosine"

    def setup(self, budget: Budget, ctx: Context) -> None:
        """Store the device, threads, seed, budget and logger of the job."""
        self.device = torch.device(ctx.device)
        torch.set_num_threads(max(1, ctx.n_threads))
        self.seed = int(ctx.seed)
        self.budget = budget
        self.log = ctx.log

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Hide what the method may not use (the rule the job applies too), then :meth:`learn`."""
        self.setup(budget, ctx)
        self.learn(visible_to(train, type(self)))

    @abstractmethod
    def learn(self, train: Any) -> None:
        """Train on ``train`` (identities and undeclared cameras removed)."""

    def new_model(self) -> EmbeddingNet:
        """The budget's network at the seed's init (or the budget's checkpoint), on the device, and its Adam."""
        budget = self.budget
        torch.manual_seed(self.seed)
        backbone = build_backbone(budget.backbone, budget.feature_layer, weights=budget.weights, seed=self.seed)
        self.model = EmbeddingNet(backbone, budget.embedding_dim).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=budget.learning_rate, weight_decay=5e-4)
        return self.model

    def features(self, images: np.ndarray) -> np.ndarray:
        """Normalised embeddings (n, d) of ``images`` with the current model."""
        return extract(self.model, images, self.budget.batch_size, self.device)

    def embed(self, images: np.ndarray, cameras: np.ndarray | None = None) -> np.ndarray:
        """Embeddings (n, d) of test images (``cameras`` only for a method that declares them)."""
        return self.features(images)

    def predict(self, inputs: Any) -> Predictions:
        """Query and gallery embeddings and their distance."""
        inputs = visible_to(inputs, type(self))
        query = self.embed(inputs.query, inputs.query_camids)
        gallery = self.embed(inputs.gallery, inputs.gallery_camids)
        return Predictions.of(query_features=query.astype(np.float32), gallery_features=gallery.astype(np.float32),
                              distance=np.array(self.distance))
