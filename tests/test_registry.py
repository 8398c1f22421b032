import subprocess
import sys

import pytest

from harness.api import Method
from harness.errors import ParbenchError, UnknownNameError
from harness.registry import METHODS, Registry, closest_names_error, methods, methods_of, tracks


def test_unknown_name_lists_close_matches_and_available():
    with pytest.raises(UnknownNameError, match=r"Unknown method 'toy-centriod'; did you mean 'toy-centroid'"):
        methods.get("toy-centriod")
    err = closest_names_error("track", "zzz", ["a", "b"])
    assert str(err) == "Unknown track 'zzz'. Available (2): a, b."


def test_long_listing_is_cut_with_total():
    err = str(closest_names_error("method", "q", [f"m{i:02d}" for i in range(30)]))
    assert "Available (30)" in err and err.endswith(", ....")


def test_lazy_loading_imports_on_first_get():
    code = (
        "import sys; from harness.registry import tracks, methods; "
        "assert 'harness.tracks.toy' not in sys.modules; "
        "assert 'torch' not in sys.modules; "
        "tracks.get('toy'); assert 'harness.tracks.toy' in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_cli_list_imports_no_torch():
    code = (
        "import sys; from harness.cli import main; main(['list', 'methods']); "
        "assert 'torch' not in sys.modules and 'anomalib' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_double_registration_shows_both_targets_and_freeze():
    reg = Registry("method", base_cls=Method)
    reg.register("x", "harness.tracks.toy:NoOp")
    with pytest.raises(ParbenchError, match=r"already registered as 'harness.tracks.toy:NoOp'; new target 'a:b'"):
        reg.register("x", "a:b")
    reg.freeze()
    with pytest.raises(ParbenchError, match="frozen"):
        reg.register("y", "a:b")
    reg._clear()
    assert reg.names() == []


def test_base_class_checked_at_lookup():
    reg = Registry("method", base_cls=Method)
    reg.register("bad", "harness.tracks.toy:ToyTrack")
    with pytest.raises(ParbenchError, match="is not a subclass of Method"):
        reg.get("bad")


def test_unimportable_target_says_which():
    reg = Registry("method")
    reg.register("ghost", "no_such_module_xyz:Thing")
    with pytest.raises(ParbenchError, match="cannot import 'no_such_module_xyz:Thing'"):
        reg.get("ghost")


def test_plugins_arrive_through_entry_points(monkeypatch):
    from importlib.metadata import EntryPoint

    import harness.registry as registry_module

    ep = EntryPoint(name="plugin-noop", value="harness.tracks.toy:NoOp", group="parbench.methods")
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [ep] if group == "parbench.methods" else [])
    reg = Registry("method", base_cls=Method, group="parbench.methods")
    assert reg.names() == ["plugin-noop"]
    assert reg.get("plugin-noop").name == "toy-noop"
    assert reg.target("plugin-noop") == "harness.tracks.toy:NoOp"


def test_every_builtin_resolves_to_its_track():
    for name in tracks.names():
        assert tracks.get(name).name == name
    for name, entry in METHODS.items():
        if entry.track == "toy":
            assert methods.get(name).track == "toy"


def test_the_fault_methods_are_the_tests_own():
    assert not [name for name, entry in METHODS.items() if entry.target.startswith("engine_faults")]
    assert {"toy-hang", "toy-oom", "toy-raise", "anomaly-peek"} <= set(methods_of("toy")) | set(methods_of("anomaly"))


def test_default_presets_of_benchmarked_tracks_run_at_least_three_seeds():
    from harness.registry import TRACKS, tracks

    for name, entry in TRACKS.items():
        if entry.bench:
            seeds = tracks.get(name)().budget("default").seeds
            assert len(seeds) >= 3, f"{name}: default budget runs {len(seeds)} seed(s); intervals need 3 or more"
