import subprocess
import sys

import pandas as pd
import pytest

from harness.cli import main


@pytest.fixture
def cli(results, data_root):
    def run(*args):
        return main([*args, "--results", str(results)])

    return run


def test_run_leaderboard_report(cli, results, capsys):
    assert cli("run", "toy", "--budget", "smoke", "--methods", "toy-centroid,toy-raise", "--no-progress") == 0
    err = capsys.readouterr().err
    assert "toy: 4 jobs" in err and "2 error, 2 ok" in err
    assert cli("leaderboard", "toy", "--budget", "smoke") == 0
    md = (results / "leaderboards" / "toy.md").read_text()
    assert "toy-centroid" in md and "ERROR" in md
    assert cli("report", "toy") == 0
    out = capsys.readouterr().out
    assert "RuntimeError: toy-raise fails on purpose" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "toyy"], "Unknown track 'toyy'; did you mean 'toy'?"),
        (["run", "toy", "--budget", "huge"], "Unknown budget 'huge' in track 'toy'"),
        (["run", "toy", "--methods", "toy-centriod"], "did you mean 'toy-centroid'"),
        (["run", "toy", "--dataset", "nope"], "Unknown dataset 'nope'"),
        (["run", "toy", "--subsets", "esy"], "Unknown subset 'esy' in dataset 'toy_blobs'"),
        (["run", "toy", "--set", "time_limit"], "--set takes key=value"),
        (["run", "toy", "--set", "bogus=1"], "key 'bogus' is not allowed; allowed keys"),
        (["leaderboard", "toy", "--budget", "paper"], "no results of track 'toy' under budget 'paper'"),
    ],
)
def test_bad_input_is_one_line_without_traceback(cli, capsys, argv, message):
    assert cli(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_unwritable_results_keeps_stored_results(tmp_path, data_root, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", "toy", "--budget", "smoke", "--methods", "toy-noop", "--results", str(blocker)]) == 2
    assert "is not writable" in capsys.readouterr().err
    assert blocker.read_text() == "x"


def test_check_update_then_pass_then_detect_regression(cli, results, capsys):
    assert cli("check", "toy", "--update") == 0
    ref_path = results / "reference" / "toy.csv"
    ref = pd.read_csv(ref_path)
    assert {"toy-centroid", "toy-noop"} <= set(ref["method"])
    assert cli("check", "toy") == 0
    ref.loc[(ref["method"] == "toy-centroid") & (ref["metric"] == "accuracy"), "expected"] += 0.3
    ref.to_csv(ref_path, index=False)
    capsys.readouterr()
    assert cli("check", "toy") == 1
    out = capsys.readouterr().out
    assert "FAIL toy_blobs/easy toy-centroid accuracy: got" in out and "outside tolerance" in out


def test_help_explains_and_module_entry_point_works():
    out = subprocess.run([sys.executable, "-m", "harness", "run", "--help"], capture_output=True, text=True, check=True)
    assert "--rerun-failed" in out.stdout and "PARBENCH_DATA" in out.stdout and "PARBENCH_CACHE" in out.stdout


def test_the_readme_track_table_is_the_registry_table():
    from pathlib import Path

    from harness.cli.listing import tracks_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert tracks_table() in readme, "regenerate the README's track table with `parbench list tracks`"


def test_list_tracks_prints_the_registry_table(capsys):
    assert main(["list", "tracks"]) == 0
    out = capsys.readouterr().out
    assert "`anomaly`" in out and "`nox -s bench-anomaly`" in out and "engine self-test" in out
