"""What runs inside a job's own process: load inputs, fit, predict, save predictions.

The runner forks this process from a warm fork server that has never held any test truth.
The job loads the training data and the test *inputs* through the track, puts the inputs in the
job's seeded order (tracks whose test order could tell a label), runs the method and writes
``predictions.npz`` and ``meta.json`` into its scratch folder; on an exception it writes
``error.txt`` (the traceback) and exits non-zero. It never sees labels, masks or boxes.

Before the method runs, the job leaves nothing behind from which it could find the dataset or the
split derived from it: its working directory is its own scratch folder, its log goes to a file in that
folder (the runner moves it into the store afterwards), and the environment loses ``PARBENCH_DATA``,
``PARBENCH_CACHE`` and every variable that names the dataset folder or the cache of derived files.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import random
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EXIT_ERROR", "EXIT_OOM", "EXIT_ORPHANED", "job_main", "peak_rss_mb"]

EXIT_ERROR = 1
EXIT_OOM = 3
EXIT_ORPHANED = 4
_WATCH_S = 0.5
_PR_SET_PDEATHSIG = 1


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB (``VmHWM``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _scrub_environment(root: Path, data_root: str, cache_root: str = "") -> None:
    """Remove ``PARBENCH_DATA``, ``PARBENCH_CACHE`` and every variable naming the data root, dataset or cache."""
    from harness.cache import CACHE_ENV
    from harness.cards import DATA_ENV

    names = {str(root), data_root, cache_root}
    for env in (DATA_ENV, CACHE_ENV):
        if os.environ.get(env):
            names.add(str(Path(os.environ[env]).expanduser()))
    for key in list(os.environ):
        value = os.environ[key]
        if key in (DATA_ENV, CACHE_ENV) or any(name and name in value for name in names):
            del os.environ[key]


def _device_limit(device: str, memory_limit_mb: int) -> None:
    """On CUDA, cap the caching allocator at the budget's memory limit and reset the peak counter."""
    if device != "cuda":
        return
    import torch

    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, memory_limit_mb * 2**20 / total))
    torch.cuda.reset_peak_memory_stats()


def _device_peak_mb(device: str) -> float | None:
    if device != "cuda":
        return None
    import torch

    return torch.cuda.max_memory_allocated() / 2**20


def _is_device_oom(exc: BaseException) -> bool:
    torch = sys.modules.get("torch")
    oom = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    return oom is not None and isinstance(exc, oom)


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when the fork server (its parent) exits."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _runner_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state not in ("Z", "X")


def _watch_runner(pid: int) -> None:
    """End this job when the runner that started it is gone (killed, even with SIGKILL).

    The fork server outlives the runner while any job holds its liveness pipe, so a job cannot
    rely on the fork server's death alone; it watches the runner itself.
    """
    import threading

    def watch() -> None:
        while _runner_alive(pid):
            time.sleep(_WATCH_S)
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="parbench-runner-watch", daemon=True).start()


def _redirect_output(log_path: Path) -> logging.Logger:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    logger = logging.getLogger("parbench.job")
    logger.handlers[:] = [logging.StreamHandler(sys.stderr)]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def _seed_everything(seed: int, n_threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - legacy state for libraries that use it
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.manual_seed(seed)
        torch.set_num_threads(max(1, n_threads))


def _resolve_device(device: str) -> str:
    if device == "auto":
        torch = sys.modules.get("torch")
        return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    return device


def _n_items(inputs: Any, predictions: Any) -> int:
    try:
        return len(inputs)
    except TypeError:
        arrays = list(predictions.arrays.values())
        return int(len(arrays[0])) if arrays and np.ndim(arrays[0]) else 0


def job_main(spec: dict[str, Any], out_dir: str) -> None:
    """Run one job; called by the runner in a fresh child process.

    Args:
        spec: The job as plain data: ``track``, ``target``, ``config``, ``seed``, ``order_seed``, ``budget``,
            ``root``, ``data_root``, ``cache_root``, ``card``, ``subset``, ``device``, ``n_threads``, ``runner_pid``.
        out_dir: Scratch folder where the predictions, timings, log (``job.log``) or traceback go.
    """
    _die_with_parent()
    if spec.get("runner_pid"):
        _watch_runner(int(spec["runner_pid"]))
    out = Path(out_dir)
    log = _redirect_output(out / "job.log")
    if "harness._quiet" in sys.modules:  # forked from a server that kept its import warnings
        sys.modules["harness._quiet"].replay(log)
    try:
        _run(spec, out, log)
    except MemoryError:
        (out / "error.txt").write_text(traceback.format_exc())
        log.exception("job ran out of memory")
        sys.stdout.flush()
        os._exit(EXIT_OOM)
    except BaseException as exc:  # noqa: BLE001 - every failure of a method is recorded, never raised
        (out / "error.txt").write_text(traceback.format_exc())
        if _is_device_oom(exc):
            log.exception("job ran out of device memory")
            sys.stdout.flush()
            os._exit(EXIT_OOM)
        log.exception("job failed")
        sys.stdout.flush()
        os._exit(EXIT_ERROR)


def _run(spec: dict[str, Any], out: Path, log: logging.Logger) -> None:
    from harness.api import Context, Predictions, test_order
    from harness.cards import DatasetCard
    from harness.registry import load_target, tracks

    track = tracks.get(spec["track"])()
    if spec.get("cache_root"):
        track.cache_root = Path(spec["cache_root"])
    method_cls = load_target(spec["target"])
    budget = track.budget_cls.from_dict(spec["budget"])
    card = DatasetCard(**spec["card"])
    root = Path(spec["root"])
    device = _resolve_device(spec["device"])
    _seed_everything(spec["seed"], spec["n_threads"])
    work_dir = out / "work"
    work_dir.mkdir(exist_ok=True)
    log.info("%s on %s/%s seed %d, device %s", spec["method"], spec["dataset"], spec["subset"], spec["seed"], device)
    t0 = time.perf_counter()
    train = track.load_train(root, card, spec["subset"], budget, seed=spec["seed"])
    inputs = track.load_test_inputs(root, card, spec["subset"], budget, seed=spec["seed"])
    if track.shuffle_test:
        inputs = track.reorder_inputs(inputs, test_order(len(inputs), spec["order_seed"]))
    train, inputs = track.method_view(train, method_cls), track.method_view(inputs, method_cls)
    t1 = time.perf_counter()
    _scrub_environment(root, spec.get("data_root") or str(root), spec.get("cache_root") or "")
    os.chdir(work_dir)
    ctx = Context(seed=spec["seed"], device=device, work_dir=work_dir, log=log, n_threads=spec["n_threads"])
    _device_limit(device, budget.memory_limit_mb)
    method = method_cls(method_cls.make_config(spec["config"]))
    method.fit(train, budget, ctx)
    t2 = time.perf_counter()
    predictions = method.predict(inputs)
    t3 = time.perf_counter()
    if isinstance(predictions, dict):
        predictions = Predictions.of(**predictions)
    if not isinstance(predictions, Predictions):
        msg = f"predict must return harness.api.Predictions; got {type(predictions).__name__}."
        raise TypeError(msg)
    predictions.save(out / "predictions.npz")
    meta = {
        "load_s": t1 - t0,
        "fit_s": t2 - t1,
        "predict_s": t3 - t2,
        "peak_rss_mb": peak_rss_mb(),
        "peak_device_memory_mb": _device_peak_mb(device),
        "device": device,
        "n_test": _n_items(inputs, predictions),
    }
    (out / "meta.json").write_text(json.dumps(meta))
    log.info("fit %.2f s, predict %.2f s, peak resident %.0f MiB (with the pages shared with the fork server)",
             meta["fit_s"], meta["predict_s"], meta["peak_rss_mb"])
    sys.stdout.flush()
    sys.stderr.flush()
