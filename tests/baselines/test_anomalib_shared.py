"""Tests of the modules every anomalib-backed baseline shares: batches, outputs, weights, memory."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from anomalib_cases import SEED, resnet18_checkpoint

from baselines.anomalib_models.images import IMAGENET_MEAN, IMAGENET_STD, check_images, step_batches, to_model_input
from baselines.anomalib_models.memory import pin_mmap_threshold
from baselines.anomalib_models.outputs import to_arrays
from baselines.anomalib_models.weights import WeightsError, load_backbone_weights


def features_only_resnet18() -> torch.nn.Module:
    return timm.create_model("resnet18", pretrained=False, features_only=True, out_indices=[2, 3])


def test_model_input_is_nchw_imagenet_normalised():
    rng = np.random.default_rng(SEED)
    batch = rng.integers(0, 256, size=(2, 5, 7, 3), dtype=np.uint8)
    got = to_model_input(batch, "cpu")
    want = (batch.astype(np.float32) / 255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    assert got.shape == (2, 3, 5, 7) and got.dtype == torch.float32 and got.is_contiguous()
    np.testing.assert_allclose(got.numpy(), want.transpose(0, 3, 1, 2), atol=1e-6)


@pytest.mark.parametrize(
    "images",
    [np.zeros((2, 8, 8, 3), dtype=np.float32), np.zeros((2, 8, 8), dtype=np.uint8), np.zeros((0, 8, 8, 3), np.uint8)],
    ids=["float", "gray", "empty"],
)
def test_malformed_images_are_refused_with_their_shape(images):
    with pytest.raises(ValueError, match=r"images of Caller must be a non-empty uint8 array .* got .* shape"):
        check_images(images, input_name="images", caller="Caller")


@pytest.mark.parametrize(("n_images", "batch_size"), [(10, 4), (8, 8), (3, 8)])
def test_step_batches_are_shuffled_epochs_without_repeats(n_images, batch_size):
    steps = list(step_batches(n_images, batch_size, 7, seed=SEED))
    size = min(n_images, batch_size)
    per_epoch = n_images // size
    assert len(steps) == 7 and all(len(s) == size for s in steps)
    for start in range(0, 7, per_epoch):
        epoch = torch.cat(steps[start : start + per_epoch])
        assert len(set(epoch.tolist())) == len(epoch)  # no image twice within an epoch
    again = list(step_batches(n_images, batch_size, 7, seed=SEED))
    assert all(torch.equal(a, b) for a, b in zip(steps, again, strict=True))


def test_to_arrays_concatenates_raw_values_with_fixed_dtypes():
    scores, maps = to_arrays(
        [torch.tensor([1.5, -2.0]), torch.tensor([[3.0]])],
        [torch.ones(2, 1, 4, 4, dtype=torch.float64), torch.zeros(1, 4, 4)],
    )
    assert scores.dtype == np.float64 and maps.dtype == np.float32
    np.testing.assert_array_equal(scores, [1.5, -2.0, 3.0])
    assert maps.shape == (3, 4, 4) and maps[:2].min() == 1.0


def test_to_arrays_refuses_length_mismatch():
    with pytest.raises(ValueError, match="2 image scores but 1 anomaly maps"):
        to_arrays([torch.ones(2)], [torch.ones(1, 1, 4, 4)])


def test_full_checkpoint_loads_into_the_feature_network(tmp_path):
    path, state = resnet18_checkpoint(tmp_path / "r18.pth")
    net = features_only_resnet18()
    load_backbone_weights(net, path, backbone="resnet18")
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_safetensors_checkpoint_loads_and_a_broken_one_is_named(tmp_path):
    from safetensors.torch import save_file

    _, state = resnet18_checkpoint(tmp_path / "r18.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "r18.safetensors")
    net = features_only_resnet18()
    load_backbone_weights(net, tmp_path / "r18.safetensors", backbone="resnet18")
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, state[key])
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match=r"bad\.safetensors' cannot be read as safetensors"):
        load_backbone_weights(features_only_resnet18(), tmp_path / "bad.safetensors", backbone="resnet18")


def test_wrapped_checkpoint_without_counters_loads(tmp_path):
    _, state = resnet18_checkpoint(tmp_path / "r18.pth")
    trimmed = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": trimmed}, tmp_path / "wrapped.pth")
    load_backbone_weights(features_only_resnet18(), tmp_path / "wrapped.pth", backbone="resnet18")


def test_checkpoint_of_another_resnet_is_refused(tmp_path):
    torch.manual_seed(SEED)
    torch.save(timm.create_model("resnet34", pretrained=False).state_dict(), tmp_path / "r34.pth")
    with pytest.raises(WeightsError, match=r"r34\.pth' does not fit backbone 'resnet18': \d+ of its \d+ keys"):
        load_backbone_weights(features_only_resnet18(), tmp_path / "r34.pth", backbone="resnet18")


def test_wrong_shape_is_named(tmp_path):
    _, state = resnet18_checkpoint(tmp_path / "r18.pth")
    state = {**state, "layer2.0.conv1.weight": torch.zeros(1, 1, 1, 1)}
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match=r"key 'layer2\.0\.conv1\.weight' has shape \(1, 1, 1, 1\)"):
        load_backbone_weights(features_only_resnet18(), tmp_path / "bad.pth", backbone="resnet18")


@pytest.mark.parametrize("content", [[1, 2, 3], {}], ids=["list", "empty"])
def test_non_state_dict_is_refused(tmp_path, content):
    torch.save(content, tmp_path / "odd.pth")
    with pytest.raises(WeightsError, match=r"odd\.pth' must hold a state dict"):
        load_backbone_weights(features_only_resnet18(), tmp_path / "odd.pth", backbone="resnet18")


def test_unreadable_file_is_refused(tmp_path):
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(WeightsError, match=r"text\.pth' cannot be read with torch\.load\(weights_only=True\)"):
        load_backbone_weights(features_only_resnet18(), tmp_path / "text.pth", backbone="resnet18")


def test_pin_mmap_threshold_reports_whether_it_applied():
    assert isinstance(pin_mmap_threshold(), bool)
