"""Adapter of SNARM (arXiv:2508.01591) to the harness contract of the ``anomaly`` track.

``fit``: patch features of the good training images form the bank (coreset-subsampled); synthetic
anomalies made from the same images (Perlin masks, pasted textures) get inter-residuals that leave
their source and texture-donor images out of the bank, and the network learns per-patch labels from
their masks within the budget's ``max_steps``. ``predict``: features, inter-residuals against the
whole bank, the heads' per-patch logits, upsampled to the image and fused (mean of the sigmoids),
Gaussian smoothing and pooled-maximum image scores, a batch at a time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from harness.api import Budget, Context, Method, Predictions
from harness.options import option
from methods.snarm.anomaly_map import anomaly_maps, fuse_heads
from methods.snarm.model import HEAD_SPECS, MIXERS, PatchFeatureExtractor, SnarmNet, build_backbone, snarm_loss
from methods.snarm.residuals import greedy_coreset, knn_mean_residual, residual_tokens
from methods.snarm.synth_anomalies import synthesize_anomalies

__all__ = ["Snarm"]





class Snarm(Method):
    """Self-Navigated Residual Mamba: inter/intra residuals, multi-head navigated Mamba, synthetic training."""

    name = "snarm"
    kind = "method"
    paper = "arXiv:2508.01591"
    track = "anomaly"

    @dataclass(frozen=True)
    class Config:
        """Options of SNARM; the ablations of the registry override some of them."""

        k_neighbors: int = option(3, "Bank neighbours averaged into the inter-residual.", ge=1)
        reference_ratio: float = option(0.75, "Share of patches used as in-image references.", gt=0, le=1)
        coreset_ratio: float = option(0.1, "Share of bank features kept by greedy coreset.", gt=0, le=1)
        local_pool: int = option(3, "Local feature averaging window, in patches.", ge=1, odd=True)
        use_intra: bool = option(True, "Feed the intra-residual (False: ablation).")
        mixer: str = option("mamba", "Sequence mixer of the heads: mamba or mlp (ablation).", choices=MIXERS)
        n_heads: int = option(4, "Heads (scan order and dilation each), averaged.", ge=1, le=len(HEAD_SPECS))
        d_model: int = option(32, "Width of each head.", ge=1)
        n_layers: int = option(1, "Navigated blocks (norm, 3 x 3 convolution, mixer) per head.", ge=1)
        d_state: int = option(4, "Mamba state size.", ge=1)
        synthetic_per_image: int = option(4, "Synthetic training samples per good image.", ge=1)
        anomaly_probability: float = option(0.7, "Share of synthetic samples with an anomaly.", ge=0, le=1)
        max_opacity: float = option(0.8, "Upper bound of the image's share in a blended region.", ge=0, le=1)
        learning_rate: float = option(2e-3, "AdamW learning rate.", gt=0)
        weight_decay: float = option(1e-4, "AdamW weight decay.", ge=0)
        focal_gamma: float = option(2.0, "Focusing parameter of the focal loss.", ge=0)
        sigma_at_256: float = option(4.0, "Map smoothing sigma at 256 px, scaled, in px.", ge=0)
        pool_at_256: int = option(16, "Score pooling window at 256 px, scaled, in px.", ge=1)
        loop_threads: int = option(
            1, "CPU threads of the coreset and training loops (small ops), at most the job's.", ge=1
        )
        knn_chunk_size: int = option(2048, "Queries per nearest-neighbour chunk.", ge=1)


    @contextmanager
    def _loop_threads(self) -> Iterator[None]:
        """Run a loop of small ops on ``loop_threads`` threads (at most the job's), then restore.

        Small ops gain little from more threads, and on a shared CPU two threads made each step of
        these loops 5 to 20 times slower (waiting for each other) than one.
        """
        torch.set_num_threads(min(self.n_threads, self.config.loop_threads))
        try:
            yield
        finally:
            torch.set_num_threads(self.n_threads)

    def _features(self, images: np.ndarray) -> torch.Tensor:
        """Patch features (n_images, C, h, w) divided by the bank's scale, on the device, a batch at a time."""
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[start : start + self.batch_size])).to(self.device)
            out.append(self.extractor(batch))
        return torch.cat(out) / self.feature_scale

    def _inter(self, features: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
        """Inter-residuals (n_images, C, h, w); ``groups`` (n_images, n_groups) excludes those images' bank rows."""
        n_images, n_channels, height, width = features.shape
        queries = features.permute(0, 2, 3, 1).reshape(-1, n_channels)
        query_groups = None if groups is None else groups.repeat_interleave(height * width, dim=0)
        residual = knn_mean_residual(
            queries,
            self.bank,
            k=self.config.k_neighbors,
            query_groups=query_groups,
            bank_groups=None if groups is None else self.bank_groups,
            chunk_size=self.config.knn_chunk_size,
        )
        return residual.view(n_images, height, width, n_channels).permute(0, 3, 1, 2)

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Build the bank, draw synthetic anomalies, train the network for ``budget.max_steps`` steps."""
        cfg = self.config
        self.n_threads = max(1, ctx.n_threads)
        torch.set_num_threads(self.n_threads)
        self.device = torch.device(ctx.device)
        self.batch_size = max(1, budget.batch_size)
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(ctx.seed)
            backbone = build_backbone(budget.backbone, tuple(budget.layers), weights=budget.weights, seed=ctx.seed)
            self.extractor = PatchFeatureExtractor(backbone, local_pool=cfg.local_pool).to(self.device)
            self._fit_bank(train.images, ctx.seed)
            tokens, is_reference, targets = self._synthetic(train.images, ctx.seed)
            self.net = SnarmNet(
                tokens.shape[-1],
                mixer=cfg.mixer,
                n_heads=cfg.n_heads,
                d_model=cfg.d_model,
                n_layers=cfg.n_layers,
                d_state=cfg.d_state,
            ).to(self.device)
            self.net.set_token_statistics(tokens)
            with self._loop_threads():
                self._train(tokens, is_reference, targets, budget.max_steps, ctx.seed)
        self.net.eval()
        elapsed_s = time.perf_counter() - t0
        ctx.log.info("snarm fit: bank %s, %d steps, %.1f s", tuple(self.bank.shape), budget.max_steps, elapsed_s)

    def _fit_bank(self, images: np.ndarray, seed: int) -> None:
        """Bank of the good images' patch features; one global scale makes them unit-variance."""
        self.feature_scale = torch.ones((), device=self.device)
        features = self._features(images)
        self.feature_scale = features.std().clamp_min(1e-6)
        features = features / self.feature_scale
        n_images, n_channels, height, width = features.shape
        bank = features.permute(0, 2, 3, 1).reshape(-1, n_channels)
        groups = torch.arange(n_images, device=self.device).repeat_interleave(height * width)
        if self.config.coreset_ratio < 1.0:
            with self._loop_threads():
                keep = greedy_coreset(bank, round(self.config.coreset_ratio * len(bank)), seed=seed)
            bank, groups = bank[keep], groups[keep]
        self.bank, self.bank_groups = bank.contiguous(), groups

    def _tokens(self, features: torch.Tensor, groups: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual tokens (n_images, h * w, in_dim) and references (n_images, h * w) of features."""
        inter = self._inter(features, groups)
        return residual_tokens(
            features, inter, reference_ratio=self.config.reference_ratio, use_intra=self.config.use_intra
        )

    def _synthetic(self, images: np.ndarray, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Residual tokens, references and per-patch targets (n, h, w) of the synthetic samples.

        Inter-residuals leave images out: a sample never matches the bank rows of the good image it
        was made from, nor of the one its pasted texture came from (as a test image is never in the
        bank; otherwise the pasted region would find its own origin and look *more* normal).
        """
        cfg = self.config
        samples, masks, sources, donors = synthesize_anomalies(
            images,
            len(images) * cfg.synthetic_per_image,
            seed=seed,
            anomaly_probability=cfg.anomaly_probability,
            max_opacity=cfg.max_opacity,
        )
        # With one or two good images nothing may be left once they are excluded; use the full bank.
        all_groups = torch.from_numpy(np.stack([sources, donors], axis=1)).to(self.device) if len(images) > 2 else None
        tokens, references, grid = [], [], None
        for start in range(0, len(samples), self.batch_size):
            stop = start + self.batch_size
            features = self._features(samples[start:stop])
            grid = features.shape[-2:]
            groups = None if all_groups is None else all_groups[start:stop]
            batch_tokens, batch_references = self._tokens(features, groups)
            tokens.append(batch_tokens)
            references.append(batch_references)
        targets = F.adaptive_avg_pool2d(torch.from_numpy(masks)[:, None].to(self.device), grid)[:, 0]
        return torch.cat(tokens), torch.cat(references), targets

    def _train(
        self, tokens: torch.Tensor, is_reference: torch.Tensor, targets: torch.Tensor, max_steps: int, seed: int
    ) -> None:
        """AdamW on random batches (epochs of a seeded permutation) for ``max_steps`` steps."""
        cfg = self.config
        height, width = targets.shape[-2:]
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        generator = torch.Generator().manual_seed(seed)
        n_samples = len(targets)
        order = torch.empty(0, dtype=torch.long)
        self.net.train()
        for _ in range(max_steps):
            if len(order) < min(self.batch_size, n_samples):
                order = torch.cat([order, torch.randperm(n_samples, generator=generator)])
            idx, order = order[: self.batch_size].to(self.device), order[self.batch_size :]
            logits = self.net(tokens[idx], is_reference[idx], height, width)
            loss = snarm_loss(logits, targets[idx], gamma=cfg.focal_gamma)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    @torch.no_grad()
    def predict(self, inputs: Any) -> Predictions:
        """Raw anomaly maps (n_images, S, S) float32 and image scores (n_images,) float64."""
        maps, scores = [], []
        for start in range(0, len(inputs.images), self.batch_size):
            features = self._features(inputs.images[start : start + self.batch_size])
            tokens, is_reference = self._tokens(features)
            logits = self.net(tokens, is_reference, *features.shape[-2:])
            batch_maps, batch_scores = anomaly_maps(
                fuse_heads(logits, inputs.images.shape[1]),
                inputs.images.shape[1],
                sigma_at_256=self.config.sigma_at_256,
                pool_at_256=self.config.pool_at_256,
            )
            maps.append(batch_maps.cpu())
            scores.append(batch_scores.cpu())
        return Predictions.of(
            scores=torch.cat(scores).numpy().astype(np.float64), maps=torch.cat(maps).numpy().astype(np.float32)
        )
