"""The ViT every method of the early-exit track starts from: its architecture, its pieces and its training.

One backbone per budget and seed (:class:`BackboneSpec` from the budget's fields): a timm
``VisionTransformer`` built from the budget's size fields (``backbone = "vit"``: the CPU budgets, trained from
random init), or a named timm ViT/DeiT architecture whose weights come from a local checkpoint (``--weights
PATH``: the paper budget, fine-tuned). :func:`train_backbone` trains it on the training part of the split
(classifier at the end only); :mod:`harness.tracks.earlyexit.backbone_cache` keeps the result on disk, so that
every method of a grid receives the very same weights (:class:`SharedBackbone`).

Cutting the ViT into the pieces of an :class:`~harness.tracks.earlyexit.prefix.ExitNet` uses the model's own
code: :class:`VitStem` runs ``patch_embed``, ``_pos_embed`` (class and distillation tokens, position
embedding; timm has no public name for this step, its ``forward_features`` calls the same method),
``patch_drop`` and ``norm_pre``; a stage is a ``torch.nn.Sequential`` of the model's own blocks; and
:class:`VitClassifier` runs the model's final ``norm`` and its public ``forward_head``. Stem, stages and
classifier in a row compute exactly ``model(x)``. The pieces share the model's parameters; move and switch
the model (``.to()``, ``.eval()``), not a piece.

Exit heads read the tokens a block outputs (before the final norm), as LGViT's heads read hidden states.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from harness.tracks.earlyexit.prefix import ExitNet
from harness.tracks.earlyexit.training import ImageBatches, predict_batches, train_steps

__all__ = [
    "BackboneSpec",
    "SharedBackbone",
    "VitClassifier",
    "VitStem",
    "backbone_spec",
    "build_vit",
    "exit_tokens",
    "make_exit_net",
    "train_backbone",
]

#: ``backbone`` value of a ViT built from the budget's size fields (and not from a timm name).
CUSTOM = "vit"
#: Label smoothing of every cross-entropy the track trains with.
LABEL_SMOOTHING = 0.1


@dataclass(frozen=True)
class BackboneSpec:
    """The architecture of the shared backbone (plain values: it travels to the method with the weights).

    Attributes:
        arch: ``"vit"`` (built from the fields below) or a timm ViT/DeiT name (e.g. ``"deit_small_patch16_224"``).
        n_classes: Classes of the classifier.
        image_size: Side of the square input.
        patch_size: Side of a patch (``"vit"`` only, like the four fields after it).
        embed_dim: Token width.
        depth: Transformer blocks.
        num_heads: Attention heads per block.
        mlp_ratio: Hidden width of each block's MLP over ``embed_dim``.
    """

    arch: str
    n_classes: int
    image_size: int
    patch_size: int = 4
    embed_dim: int = 96
    depth: int = 6
    num_heads: int = 3
    mlp_ratio: float = 2.0


def backbone_spec(budget: Any, n_classes: int) -> BackboneSpec:
    """The spec of ``budget``'s backbone for ``n_classes`` classes (the size fields count for ``"vit"`` only)."""
    if budget.backbone == CUSTOM:
        return BackboneSpec(
            CUSTOM, int(n_classes), int(budget.image_size), int(budget.patch_size), int(budget.embed_dim),
            int(budget.depth), int(budget.num_heads), float(budget.mlp_ratio),
        )
    return BackboneSpec(str(budget.backbone), int(n_classes), int(budget.image_size), 0, 0, 0, 0, 0.0)


def build_vit(spec: BackboneSpec, *, seed: int) -> nn.Module:
    """The backbone at its random init, a function of ``(spec, seed)`` only (drawn under a private RNG state).

    Args:
        spec: The architecture.
        seed: The job's seed.

    Returns:
        A timm ``VisionTransformer`` (or subclass) in training mode, on the CPU.

    Raises:
        ValueError: ``spec.arch`` is not a timm model, or not a ViT (its blocks and token layout are needed).

    Example:
        >>> vit = build_vit(BackboneSpec("vit", 10, 32, 4, 32, 2, 2, 2.0), seed=0)
        >>> vit(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 10])
    """
    import timm
    from timm.models.vision_transformer import VisionTransformer

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(zlib.crc32(f"{asdict(spec)}:{int(seed)}".encode()))
        if spec.arch == CUSTOM:
            model = VisionTransformer(
                img_size=spec.image_size, patch_size=spec.patch_size, embed_dim=spec.embed_dim, depth=spec.depth,
                num_heads=spec.num_heads, mlp_ratio=spec.mlp_ratio, num_classes=spec.n_classes, global_pool="token",
            )
        else:
            if spec.arch not in timm.list_models():
                msg = f"backbone {spec.arch!r} is not a timm model; give a ViT or DeiT name or 'vit'."
                raise ValueError(msg)
            try:
                model = timm.create_model(spec.arch, pretrained=False, num_classes=spec.n_classes,
                                          img_size=spec.image_size)
            except TypeError as exc:  # an architecture without an input size: not a ViT
                raise ValueError(_not_a_vit(spec.arch, str(exc))) from exc
    if not isinstance(model, VisionTransformer):
        raise ValueError(_not_a_vit(spec.arch, f"a {type(model).__name__}"))  # noqa: TRY004 - a wrong setting
    return model


def _not_a_vit(arch: str, what: str) -> str:
    return (
        f"backbone {arch!r} is not a timm VisionTransformer ({what}); the early-exit track cuts a ViT into blocks. "
        "Give a ViT or DeiT name (e.g. deit_small_patch16_224) or 'vit'."
    )


def load_vit_weights(model: nn.Module, path: str, *, arch: str) -> None:
    """Load a local checkpoint of ``arch`` into ``model``, every weight but the classifier (re-initialised).

    The checkpoint's classifier (e.g. ImageNet's 1,000 classes) does not fit the dataset's classes, so it is left
    out: the model's heads are removed while :func:`harness.backbones.load_backbone_weights` checks and loads the
    rest (a ``.pt``/``.pth`` state dict read with ``torch.load(weights_only=True)``, or ``.safetensors``), then
    new heads of the model's classes are drawn.
    """
    from harness.backbones import load_backbone_weights

    n_classes = model.num_classes
    model.reset_classifier(0)
    load_backbone_weights(model, path, backbone=arch)
    model.reset_classifier(n_classes)


class VitStem(nn.Module):
    """Images to tokens with the ViT's own embedding code: float (n, 3, S, S) -> float (n, n_tokens, dim)."""

    def __init__(self, vit: nn.Module) -> None:
        super().__init__()
        self.patch_embed = vit.patch_embed
        self.patch_drop = vit.patch_drop
        self.norm_pre = vit.norm_pre
        # a bound method of ``vit``: its class tokens and position embedding
        self._pos_embed = vit._pos_embed  # noqa: SLF001

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed the patches, add the prefix tokens and the position embedding."""
        return self.norm_pre(self.patch_drop(self._pos_embed(self.patch_embed(x))))


class VitClassifier(nn.Module):
    """The ViT's own classifier on the last block's tokens: final norm, pooling, head -> float (n, n_classes)."""

    def __init__(self, vit: nn.Module) -> None:
        super().__init__()
        self.norm = vit.norm
        self.fc_norm = vit.fc_norm
        self.head = vit.head
        self._forward_head = vit.forward_head  # a bound method: timm's pooling and head(s) of ``vit``

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of the model."""
        return self._forward_head(self.norm(tokens))


def make_exit_net(vit: nn.Module, heads: Sequence[nn.Module], exit_depths: Sequence[int]) -> ExitNet:
    """The ViT cut at ``exit_depths`` with ``heads``, the last exit being the model's own classifier.

    Args:
        vit: The backbone.
        heads: One head per exit but the last: head ``k`` maps the tokens after block ``exit_depths[k]`` to logits
            (or to ``(logits, exit_score)`` for a learned exit policy).
        exit_depths: 1-based block after which each exit sits, strictly increasing, the last one the depth of
            ``vit`` (its classifier).

    Returns:
        The :class:`~harness.tracks.earlyexit.prefix.ExitNet` (stem, one stage per exit, heads then
        :class:`VitClassifier`).

    Raises:
        ValueError: The depths are not increasing, do not end at the model's depth, or disagree with the heads.
    """
    depths = [int(d) for d in exit_depths]
    depth = len(vit.blocks)
    increasing = all(a < b for a, b in zip(depths, depths[1:], strict=False))
    if len(depths) != len(heads) + 1 or depths[-1] != depth or not increasing or depths[0] < 1:
        msg = (
            f"exit_depths of make_exit_net must increase from >= 1 to the backbone's depth {depth}, one more than the "
            f"{len(heads)} heads (the last exit is the model's classifier); got {depths}."
        )
        raise ValueError(msg)
    starts = [0, *depths[:-1]]
    stages = [nn.Sequential(*vit.blocks[a:b]) for a, b in zip(starts, depths, strict=True)]
    return ExitNet(VitStem(vit), stages, [*heads, VitClassifier(vit)])


def exit_tokens(net: ExitNet, x: torch.Tensor) -> list[torch.Tensor]:
    """Tokens at every exit of ``net`` for an input batch: n_exits float tensors of shape (n, n_tokens, dim)."""
    tokens = net.stem(x)
    out = []
    for stage in net.stages:
        tokens = stage(tokens)
        out.append(tokens)
    return out


@dataclass
class SharedBackbone:
    """What every method receives: the trained backbone of its seed.

    Attributes:
        spec: The architecture.
        state: The weights, a state dict of CPU tensors.
        val_accuracy: Accuracy of its classifier on the validation part of the training split.
    """

    spec: BackboneSpec
    state: dict[str, torch.Tensor]
    val_accuracy: float

    @property
    def depth(self) -> int:
        """Transformer blocks of the backbone."""
        return len({k.split(".")[1] for k in self.state if k.startswith("blocks.")})

    def build(self, device: torch.device | str) -> nn.Module:
        """A fresh copy of the trained model on ``device``, in training mode."""
        model = build_vit(self.spec, seed=0)
        model.load_state_dict(self.state, strict=True)
        return model.to(device)


def train_backbone(
    spec: BackboneSpec, images: np.ndarray, labels: np.ndarray, *, budget: Any, seed: int, device: str, log: Any = None
) -> dict[str, torch.Tensor]:
    """Train the shared backbone of ``seed``: random init (or the budget's checkpoint), then the budget's steps.

    Args:
        spec: The architecture.
        images: uint8 array of shape (n_train, H, W, 3), the training part of the split.
        labels: int array of shape (n_train,).
        budget: The track's budget (``weights``, ``backbone_steps``, ``backbone_learning_rate``, ``batch_size``,
            ``augment``, ``weight_decay``).
        seed: Seed of the init, the batch order and the augmentation.
        device: Where to train.
        log: The job's logger.

    Returns:
        The trained state dict, CPU tensors.
    """
    from harness.backbones import is_random

    model = build_vit(spec, seed=seed)
    if not is_random(budget.weights):
        load_vit_weights(model, budget.weights, arch=spec.arch)
    model = model.to(device).train()
    batches = ImageBatches(images, labels, batch_size=budget.batch_size, image_size=spec.image_size,
                           augment=budget.augment, seed=seed, device=device)

    def loss_fn(step: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x), y, label_smoothing=LABEL_SMOOTHING)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        train_steps([(model.parameters(), budget.backbone_learning_rate)], loss_fn, batches,
                    n_steps=budget.backbone_steps, weight_decay=budget.weight_decay, log=log, name="shared backbone")
    return {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}


def classifier_accuracy(backbone: SharedBackbone, images: np.ndarray, labels: np.ndarray, *, batch_size: int,
                        device: str) -> float:
    """Accuracy of the backbone's classifier on ``images`` (uint8 (n, H, W, 3)) against ``labels`` (int (n,))."""
    if len(images) == 0:
        return float("nan")
    model = backbone.build(device).eval()
    outputs = predict_batches(lambda x: model(x).argmax(dim=1).cpu(), images, batch_size=batch_size,
                              image_size=backbone.spec.image_size, device=device)
    return float((torch.cat(outputs).numpy() == np.asarray(labels)).mean())
