"""Options are declared once (harness.options.option) and every config and budget validates the same way."""

from __future__ import annotations

import dataclasses

import pytest

from harness.errors import BudgetError
from harness.options import build_options, check_options, describe_options, option, option_rule
from harness.registry import METHODS, TRACKS, load_target


@dataclasses.dataclass(frozen=True)
class Example:
    """Every kind of constraint."""

    k: int = option(3, "Neighbours.", ge=1)
    ratio: float = option(0.5, "A share.", gt=0, le=1)
    window: int = option(3, "An odd window.", ge=1, odd=True)
    mixer: str = option("mamba", "A mixer.", choices=("mamba", "mlp"))
    layers: tuple[str, ...] = option(("a", "b"), "Layers.", non_empty=True)
    flag: bool = option(True, "A switch.")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"k": 0}, "where: k must be >= 1; got 0."),
        ({"ratio": 0.0}, "where: ratio must be > 0 and <= 1; got 0.0."),
        ({"ratio": 1.5}, "where: ratio must be > 0 and <= 1; got 1.5."),
        ({"window": 4}, "where: window must be >= 1 and odd; got 4."),
        ({"mixer": "gru"}, "where: mixer must be one of mamba, mlp; got 'gru'."),
        ({"layers": ""}, "where: layers must be not empty; got ()."),
        ({"flag": "yes"}, "where: flag must be true or false; got 'yes'."),
        ({"k": "three"}, "where: k must be a int; got 'three'."),
        ({"bogus": 1}, "where: key 'bogus' is not allowed; allowed keys: flag, k, layers, mixer, ratio, window."),
    ],
)
def test_each_broken_rule_is_one_message_naming_field_rule_and_value(values, message):
    with pytest.raises(BudgetError) as info:
        build_options(Example, values, where="where")
    assert str(info.value) == message


def test_values_are_converted_to_the_field_types():
    built = build_options(Example, {"ratio": 1, "layers": "x, y", "k": 5}, where="w")
    assert built.ratio == 1.0 and isinstance(built.ratio, float)
    assert built.layers == ("x", "y") and built.k == 5
    assert build_options(Example, {"layers": ["z"]}, where="w").layers == ("z",)
    check_options(Example(), where="defaults")  # the defaults keep their own rules


def test_rules_are_described_with_the_help():
    rows = dict((name, text) for name, _, text in describe_options(Example))
    assert rows["window"] == "An odd window. (>= 1 and odd)" and rows["flag"] == "A switch."
    assert option_rule(dataclasses.fields(Example)[0]) == ">= 1"


def test_every_builtin_config_and_budget_declares_each_field_with_help_and_passes_its_own_rules():
    configs = {entry.target for entry in METHODS.values()}
    classes = [load_target(target).Config for target in sorted(configs)]
    for entry in TRACKS.values():
        track = load_target(entry.target)()
        classes.append(track.budget_cls)
        for preset in track.budgets:
            track.budget(preset)  # every preset passes its rules
    for cls in classes:
        for field in dataclasses.fields(cls):
            assert field.metadata.get("help"), f"{cls.__qualname__}.{field.name} has no help text"
        build_options(cls, {}, where=cls.__qualname__)
    for entry in METHODS.values():
        load_target(entry.target).make_config(entry.config)  # every ablation passes the rules


def test_a_checkpoint_folder_is_hashed_by_its_files(tmp_path):
    from harness.api import Budget

    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"abc")
    first = Budget(weights=str(folder)).weights_id()
    assert first.startswith("sha256:") and Budget(weights=str(folder)).weights_id() == first
    (folder / "model.safetensors").write_bytes(b"abd")
    assert Budget(weights=str(folder)).weights_id() != first
