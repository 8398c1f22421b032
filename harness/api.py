"""The contracts every track, method and baseline implements.

- :class:`Budget`: the identical limits every row of a table runs under (a frozen dataclass;
  each track subclasses it with its own fields, and keeps its named presets as data).
- :class:`Track`: data contract, evaluation, metric directions and budget presets of a task family.
- :class:`Method`: ``fit(train, budget, ctx)`` then ``predict(inputs) -> Predictions``. Baselines are
  methods with ``kind = "baseline"``. Methods see test *inputs* only; truth stays in the runner.
- :class:`Predictions`: named arrays that cross the process boundary from a job to the runner.
- :class:`Job`: one cell of the grid (track, dataset, subset, method, config, seed, budget).

This module imports no torch and no track-specific library.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.errors import BudgetError, InvalidPredictionError
from harness.options import build_options, describe_options, option

__all__ = [
    "COST_METRICS",
    "STATUSES",
    "Budget",
    "Context",
    "Job",
    "Method",
    "Predictions",
    "Track",
    "stable_hash",
    "test_order",
]

#: Every status a job can end with.
STATUSES = ("ok", "error", "timeout", "oom", "invalid")
#: Cost columns the runner adds to every track's metrics (all lower-is-better); never regression-checked.
COST_METRICS = {"fit_s": False, "predict_s_per_item": False, "peak_memory_mb": False}


def stable_hash(obj: Any, *, n_chars: int = 16) -> str:
    """Hash a JSON-serialisable object independently of dict order and process.

    Args:
        obj: Nested dicts, lists, strings and numbers.
        n_chars: Length of the hex digest prefix returned.

    Returns:
        The first ``n_chars`` hex characters of the SHA-256 of the canonical JSON.

    Example:
        >>> stable_hash({"b": 1, "a": 2}) == stable_hash({"a": 2, "b": 1})
        True
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n_chars]


def test_order(n_items: int, order_seed: int) -> np.ndarray:
    """The seeded order in which a job receives its test items (the runner puts the truth in the same order).

    Args:
        n_items: Test items of the subset.
        order_seed: The job's order seed: the runner derives it from the job's key, which the method never
            receives, so the method cannot undo the shuffle.

    Returns:
        int64 array of shape (n_items,), a permutation of ``range(n_items)``: row ``i`` of the job's inputs is
        item ``order[i]`` of the track's index.

    Example:
        >>> sorted(test_order(5, 1).tolist())
        [0, 1, 2, 3, 4]
    """
    return np.random.default_rng(order_seed).permutation(n_items).astype(np.int64)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks (cached per path, size and modification time).

    Raises:
        FileNotFoundError: The file does not exist.
    """
    stat = Path(path).stat()
    return _file_digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Budget:
    """Limits shared by every job of a table; tracks subclass it with their own fields.

    A budget is data: each track keeps a table of named presets (``smoke``, ``default``,
    ``paper``) and :meth:`Track.budget` builds the dataclass from it. Its :meth:`hash` goes
    into every job key and result row, so a table never mixes two versions of a budget.
    """

    name: str = option("custom", "Preset name this budget was built from.")
    time_limit_s: float = option(600.0, "Wall-clock limit of one job, in seconds.", gt=0)
    memory_limit_mb: int = option(
        8192, "Peak memory of one job, in MiB: the pages it allocated itself (not those shared with the fork "
        "server); on CUDA also the cap of its allocated tensors.", ge=1
    )
    device: str = option("cpu", "Device class the timings come from.", choices=("cpu", "cuda"))
    seeds: tuple[int, ...] = option((0,), "Seeds every method runs with.", non_empty=True)
    weights: str = option(
        "random", "'random' init or a local checkpoint path (the budget hash covers the file's content)."
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the budget's fields as a plain dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def weights_id(self) -> str:
        """``"random"``, or ``"sha256:<first 16 hex>"`` of the checkpoint named by :attr:`weights`.

        A checkpoint folder (a Hugging Face ``save_pretrained`` directory) hashes the relative path and content of
        every file in it.

        Raises:
            BudgetError: The checkpoint does not exist or cannot be read.
        """
        if self.weights == "random":
            return "random"
        try:
            path = Path(self.weights)
            if path.is_dir():
                from harness.cache import content_digest  # harness.cache imports this module

                return "sha256:" + content_digest([p for p in path.rglob("*") if p.is_file()], root=path)
            return "sha256:" + file_digest(self.weights)[:16]
        except OSError as exc:
            msg = f"budget {self.name!r}: weights file {self.weights} cannot be read ({exc}); give a local checkpoint."
            raise BudgetError(msg) from exc

    def hash(self) -> str:
        """Return a short stable hash of every field except the name and the seeds.

        A checkpoint enters by its content hash (:meth:`weights_id`), not its path: the same file moved keeps
        the hash, another file at the same path changes it.
        """
        payload = {k: v for k, v in self.to_dict().items() if k not in ("name", "seeds")}
        payload["weights"] = self.weights_id()
        payload["__class__"] = type(self).__name__
        return stable_hash(payload)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str = "budget") -> Budget:
        """Build a budget through :func:`harness.options.build_options`: unknown keys and broken rules fail.

        Args:
            values: Field values; missing fields take their defaults.
            where: Where the values came from, for the error message.

        Raises:
            BudgetError: A key is not a field of this budget class, or a value breaks its declared rule.
        """
        return build_options(cls, values, where=where)

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """Return (field, default, help and rule) for every field, for ``parbench list budgets``."""
        return describe_options(cls)


@dataclass(frozen=True)
class Predictions:
    """Named arrays a method returns from ``predict``; validated and scored by the runner.

    Attributes:
        arrays: Mapping from a name the track declares (``"scores"``, ``"maps"``, ...) to a
            numpy array (torch tensors are converted on construction through :meth:`of`).
    """

    arrays: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, **arrays: Any) -> Predictions:
        """Build predictions from numpy arrays or torch tensors (moved to CPU).

        Example:
            >>> Predictions.of(scores=[0.1, 0.9])["scores"].shape
            (2,)
        """
        out = {}
        for key, value in arrays.items():
            if hasattr(value, "detach"):
                value = value.detach().cpu().numpy()
            out[key] = np.asarray(value)
        return cls(out)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def save(self, path: Path) -> None:
        """Write the arrays to an uncompressed ``.npz`` file at ``path``."""
        with Path(path).open("wb") as handle:
            np.savez(handle, **dict(self.arrays))

    @classmethod
    def load(cls, path: Path) -> Predictions:
        """Read predictions written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls({key: data[key] for key in data.files})

    def check(self, name: str, *, shape: tuple[int, ...], kind: str = "f", finite: bool = True) -> np.ndarray:
        """Return array ``name`` after checking its presence, shape, dtype kind and finiteness.

        Args:
            name: Key of the array.
            shape: Expected shape; ``-1`` matches any length on that axis.
            kind: numpy dtype kinds accepted (``"f"`` float, ``"iu"`` integer, ``"b"`` bool).
            finite: Reject NaN and infinite values.

        Raises:
            InvalidPredictionError: The array is missing or fails a check; the message says which.
        """
        if name not in self.arrays:
            msg = f"predictions lack array {name!r}; got arrays {sorted(self.arrays)}."
            raise InvalidPredictionError(msg)
        array = self.arrays[name]
        wrong_rank = array.ndim != len(shape)
        if wrong_rank or any(want not in (-1, got) for want, got in zip(shape, array.shape, strict=False)):
            msg = f"predictions[{name!r}] must have shape {shape}; got {array.shape}."
            raise InvalidPredictionError(msg)
        if array.dtype.kind not in kind:
            msg = f"predictions[{name!r}] must have dtype kind {kind!r}; got {array.dtype}."
            raise InvalidPredictionError(msg)
        if finite and array.dtype.kind == "f" and not np.isfinite(array).all():
            first = np.unravel_index(int(np.argmin(np.isfinite(array))), array.shape)
            msg = f"predictions[{name!r}] must be finite; got {array[first]} at index {tuple(map(int, first))}."
            raise InvalidPredictionError(msg)
        return array


@dataclass
class Context:
    """What the runner hands a method besides data: seed, device, scratch folder, logger.

    Attributes:
        seed: The job's seed; build every generator from it.
        device: ``"cpu"`` or ``"cuda"``, resolved from ``--device``.
        work_dir: A scratch folder owned by this job, removed afterwards (it is also the job's working
            directory). The dataset folder is never handed over: every modality a method may use arrives in
            its training data or test inputs.
        log: The job's logger; its records go to the job's log file.
        n_threads: CPU threads this job may use.
    """

    seed: int
    device: str = "cpu"
    work_dir: Path = field(default_factory=Path.cwd)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("parbench.job"))
    n_threads: int = 1


class Method(ABC):
    """A method or baseline under test.

    Subclasses set the class attributes, declare a frozen ``Config`` dataclass and implement
    :meth:`fit` and :meth:`predict`. ``__init__`` only stores the config.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "method"
    paper: ClassVar[str] = ""
    track: ClassVar[str] = ""

    @dataclass(frozen=True)
    class Config:
        """Method options; subclasses replace this with their own frozen dataclass."""

    def __init__(self, config: Any | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @classmethod
    def make_config(cls, overrides: Mapping[str, Any] | None = None) -> Any:
        """Build the config through :func:`harness.options.build_options`: unknown keys and broken rules fail.

        Raises:
            BudgetError: A key is not an option of the config (the allowed ones are listed), or a value breaks
                the rule its :func:`~harness.options.option` declared.
        """
        return build_options(cls.Config, overrides, where=f"config of method {cls.name or cls.__name__!r}")

    @abstractmethod
    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Learn from the training data of one subset under ``budget``."""

    @abstractmethod
    def predict(self, inputs: Any) -> Predictions:
        """Return raw predictions for the test inputs (no labels, masks or boxes)."""


class Track(ABC):
    """A task family: its data contract, evaluation, metrics and budget presets.

    Subclasses set the class attributes and implement the loaders. The runner calls
    :meth:`load_train` and :meth:`load_test_inputs` inside the job's process and
    :meth:`load_truth`, :meth:`validate` and :meth:`evaluate` in its own process only. The
    loaders receive the job's ``seed``; a track whose split depends on it sets :attr:`seeded_split`.
    What a track derives from a dataset and keeps (a stored split, trained weights) goes into the folder
    :attr:`cache_root` (:mod:`harness.cache`), never into the dataset folder.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: metric name -> True when higher is better; the first entry is the main metric.
    metrics: ClassVar[dict[str, bool]] = {}
    budget_cls: ClassVar[type[Budget]] = Budget
    #: preset name -> field values (data, not code).
    budgets: ClassVar[dict[str, dict[str, Any]]] = {}
    default_dataset: ClassVar[str] = ""
    #: datasets each budget runs on when ``--dataset`` is not given (default: default_dataset).
    budget_datasets: ClassVar[dict[str, str]] = {}
    #: subsets each budget runs on its own dataset when ``--subsets`` is not given (default, and on any other
    #: dataset: all of the dataset's).
    budget_subsets: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: True when the train/test split depends on the job's seed (repeated random splits); the
    #: loaders then receive ``seed`` and the runner caches truth per (subset, seed).
    seeded_split: ClassVar[bool] = False
    #: True when the order of the test items could tell a label (an index sorted by class or defect folder):
    #: the job then receives its inputs in a seeded random order (:func:`test_order`), and the runner puts the
    #: truth in the same order before it scores. The inputs and truth then implement ``__len__`` and
    #: ``take(order)``; a track that sets False says in its docstring why its order carries nothing.
    shuffle_test: ClassVar[bool] = True
    #: Version of what the track derives from a dataset and stores (its split protocol); it joins the dataset's
    #: fingerprint in every job's key (:func:`harness.runner.plan_run`), so rows of another version are never
    #: resumed nor mixed in a table. "" when the track derives nothing.
    protocol_version: ClassVar[str] = ""
    #: The cache of derived files (:mod:`harness.cache`): the runner sets it from ``--cache`` in its process and
    #: in every job's; ``None`` means the default (``$PARBENCH_CACHE`` or ``~/.cache/parbench/derived``).
    cache_root: Path | None = None

    @property
    def main_metric(self) -> str:
        """The metric leaderboards rank by."""
        return next(iter(self.metrics))

    @property
    def all_metrics(self) -> dict[str, bool]:
        """The track's metrics followed by the runner's cost columns (:data:`COST_METRICS`)."""
        return {**self.metrics, **COST_METRICS}

    def budget(self, name: str, **overrides: Any) -> Budget:
        """Build the named budget preset, with optional field overrides.

        Raises:
            UnknownNameError: ``name`` is not a preset of this track.
        """
        from harness.registry import closest_names_error

        if name not in self.budgets:
            error = closest_names_error("budget", name, sorted(self.budgets), where=f"track {self.name!r}")
            raise error
        values = {**self.budgets[name], **overrides, "name": name}
        return self.budget_cls.from_dict(values, where=f"budget {name!r} of track {self.name!r}")

    def subsets(self, root: Path, card: Any) -> list[str]:
        """Return the subsets present in the dataset folder (default: the card's list)."""
        return list(card.subsets)

    def protocol(self, card: Any) -> str:
        """One sentence on how the track splits ``card``'s dataset, for the leaderboard's header ("": nothing)."""
        return ""

    def grid_subsets(self, root: Path, card: Any, budget: Budget) -> list[str]:
        """The subsets a grid under ``budget`` may run (default: :meth:`subsets`).

        A track whose budget can pool subsets into one job (the anomaly track's unified protocol) overrides it.
        """
        return self.subsets(root, card)

    @abstractmethod
    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> Any:
        """Load the training data of one subset (runs in the job's process)."""

    @abstractmethod
    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> Any:
        """Load the test inputs of one subset, without any label (runs in the job's process)."""

    @abstractmethod
    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> Any:
        """Load the test truth of one subset (runs in the runner's process only)."""

    def method_view(self, data: Any, method_cls: type) -> Any:
        """Return the training data or test inputs as ``method_cls`` may see them (runs in the job's process).

        The job calls it on the output of :meth:`load_train` and of :meth:`load_test_inputs` before the method
        exists, so what a method may not use (the identities of an unsupervised track, say) never reaches its
        process's objects. Default: everything.
        """
        return data

    def reorder_inputs(self, inputs: Any, order: np.ndarray) -> Any:
        """Return the test inputs in ``order`` (runs in the job's process; default: ``inputs.take(order)``)."""
        return inputs.take(order)

    def reorder_truth(self, truth: Any, order: np.ndarray) -> Any:
        """Return the truth in ``order`` (runs in the runner's process; default: ``truth.take(order)``)."""
        return truth.take(order)

    @abstractmethod
    def validate(self, predictions: Predictions, truth: Any) -> None:
        """Raise :class:`~harness.errors.InvalidPredictionError` if predictions cannot be scored."""

    @abstractmethod
    def evaluate(self, predictions: Predictions, truth: Any) -> dict[str, float]:
        """Compute every metric of :attr:`metrics` from raw predictions and truth."""

    #: The cost the report's quality-vs-cost scatter puts against the main metric.
    cost_metric: ClassVar[str] = "predict_s_per_item"
    #: Metrics of a leaderboard's first table, before the costs (default: the first four of :attr:`metrics`).
    headline_metrics: ClassVar[tuple[str, ...]] = ()
    #: Name of the :meth:`item_results` array whose values stratify the bootstrap over test items (e.g. the
    #: labels, so that every resample of an AUROC keeps both classes); ``None``: no strata.
    strata_item: ClassVar[str | None] = None

    def item_results(self, predictions: Predictions, truth: Any) -> dict[str, np.ndarray]:
        """Per-item arrays from which :meth:`resample_metrics` recomputes metrics on resamples of the test items.

        The runner calls it after :meth:`evaluate`, puts the arrays back in the track's item order and stores
        them with the job; the leaderboard bootstraps them. Every array's first axis is the test items, in the
        order of ``truth``. Default: none (no metric is resampled; intervals come from the seeds alone).
        """
        return {}

    def resample_metrics(self, items: Mapping[str, np.ndarray], weights: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics of many resamples of the test items at once (see :mod:`harness.metrics.resample`).

        Args:
            items: The arrays :meth:`item_results` returned (in the track's item order).
            weights: float array of shape (n_resamples, n_items): how often each item was drawn.

        Returns:
            metric -> float array of shape (n_resamples,), for each metric that is a function of per-item
            results; with all weights 1 each equals :meth:`evaluate`'s value. Metrics left out are not resampled
            (the leaderboard says so). Default: none.
        """
        return {}

    def diagnostics(self, predictions: Predictions, truth: Any) -> dict[str, np.ndarray]:
        """Vector-valued diagnostics of a job (spectra, curves), stored as arrays beside its rows, not as metrics.

        :meth:`leaderboard_figures` receives them. Default: none.
        """
        return {}

    #: True when :meth:`save_figure` draws something; the runner then saves one figure per method.
    has_figures: ClassVar[bool] = False

    def save_figure(self, predictions: Predictions, truth: Any, path: Path, *, title: str) -> None:  # noqa: B027
        """Write a PNG of one job's predictions beside the leaderboard (tracks with figures override)."""

    #: metrics stored with every job and checked by ``parbench check`` like the others, but left out of the
    #: leaderboard tables: e.g. the points of a curve that :meth:`leaderboard_figures` draws. Each is a key
    #: of :attr:`metrics`.
    figure_metrics: ClassVar[tuple[str, ...]] = ()
    #: metrics measured in wall-clock time on the machine that ran the job (a measured speed-up, say): stored,
    #: tabled and ranked like the others, but never written to the regression reference (``parbench check
    #: --update``), since CI runs on other machines. Each is a key of :attr:`metrics`.
    hardware_metrics: ClassVar[tuple[str, ...]] = ()

    def warm_up(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Prepare what the jobs share, once per run and outside every job's timing (default: nothing).

        The runner calls it in its own process before it starts the first job, e.g. to compile kernels into
        their on-disk cache, so that the first job's ``fit_s`` does not carry a one-off compilation.
        """

    def leaderboard_figures(
        self, rows: Any, out_dir: Path, diagnostics: Mapping[str, Mapping[str, np.ndarray]] | None = None
    ) -> list[Path]:
        """Draw figures of a whole table into ``out_dir`` (tracks whose figures need every job override).

        ``parbench leaderboard`` calls it before it links every PNG under ``out_dir``.

        Args:
            rows: pandas DataFrame of the store's rows of one budget (every dataset, method and seed).
            out_dir: ``results/leaderboards/<track>``.
            diagnostics: job key -> the arrays :meth:`diagnostics` returned for that job (ok jobs only).

        Returns:
            The files written (default: none).
        """
        return []


@dataclass(frozen=True)
class Job:
    """One cell of the grid; its :attr:`key` identifies it in the store.

    Attributes:
        track: Track name.
        dataset: Dataset card name.
        subset: Subset (category, fold) name.
        method: Registered method name.
        target: ``"module:Object"`` of the method class.
        config: Method config overrides.
        seed: Seed of this run.
        budget: Budget field values (its name included).
        budget_hash: :meth:`Budget.hash` of the budget.
        fingerprint: Fingerprint of the dataset folder.
    """

    track: str
    dataset: str
    subset: str
    method: str
    target: str
    config: Mapping[str, Any]
    seed: int
    budget: Mapping[str, Any]
    budget_hash: str
    fingerprint: str

    @property
    def key(self) -> str:
        """Stable hash of everything that defines the job."""
        return stable_hash(
            {
                "track": self.track,
                "dataset": self.dataset,
                "subset": self.subset,
                "method": self.method,
                "config": dict(self.config),
                "seed": self.seed,
                "budget_hash": self.budget_hash,
                "fingerprint": self.fingerprint,
            }
        )

    @property
    def label(self) -> str:
        """Short human-readable name, used in logs and the progress bar."""
        return f"{self.dataset}/{self.subset}/{self.method}/seed{self.seed}"
