"""Name -> lazy ``"module:Object"`` registry of tracks and methods, with did-you-mean errors.

Built-ins are listed as strings in the sorted tables below, so ``parbench list`` imports no
torch; a target is imported on the first :meth:`Registry.get`. Third-party methods arrive
through the entry-point group ``parbench.methods`` and tracks through ``parbench.tracks``
(the value is the usual ``"module:Object"``); they are stored as the same lazy placeholders.

How to add a method:

1. Write a package under ``methods/`` (or ``baselines/``) with a :class:`harness.api.Method`
   subclass: set ``name``, ``kind``, ``paper``, ``track``, a frozen ``Config`` dataclass,
   ``fit`` and ``predict``.
2. Add one line to :data:`METHODS` below: ``"name": MethodEntry("package.module:Class", "track")``;
   an ablation is another line with the same target and ``config={...}`` overrides.
3. Run ``parbench list methods`` to see it, then ``parbench run <track> --methods name``.
4. A method outside this repository declares instead, in its own ``pyproject.toml``:
   ``[project.entry-points."parbench.methods"] name = "module:Class"``.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from harness.errors import ParbenchError, UnknownNameError

__all__ = [
    "METHODS",
    "PluginWarning",
    "TRACKS",
    "MethodEntry",
    "Registry",
    "TrackEntry",
    "closest_names_error",
    "load_target",
    "methods",
    "tracks",
]

T = TypeVar("T")


class PluginWarning(UserWarning):
    """A plugin registered through an entry point cannot be loaded; the rest of the registry still works."""


def closest_names_error(kind: str, name: str, choices: Iterable[str], *, where: str = "") -> UnknownNameError:
    """Build the error for an unknown name: up to three close matches, then what exists.

    Args:
        kind: What was looked up (``"method"``, ``"track"``, ...).
        name: The name that was not found.
        choices: Every registered name.
        where: Optional scope, e.g. ``"track 'anomaly'"``.

    Returns:
        An :class:`UnknownNameError` to raise.

    Example:
        >>> str(closest_names_error("method", "patchcor", ["patchcore", "padim"]))
        "Unknown method 'patchcor'; did you mean 'patchcore'? Available (2): padim, patchcore."
    """
    choices = sorted(choices)
    scope = f" in {where}" if where else ""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "."
    shown = ", ".join(choices[:20]) + (", ..." if len(choices) > 20 else "")
    listing = f" Available ({len(choices)}): {shown}." if choices else " None is registered."
    return UnknownNameError(f"Unknown {kind} {name!r}{scope}{hint}{listing}")


def load_target(target: str | EntryPoint | Any) -> Any:
    """Import a ``"module:Object"`` string or an entry point; return other objects unchanged.

    Raises:
        ParbenchError: The module or the attribute cannot be imported; says which target.
    """
    if isinstance(target, EntryPoint):
        return target.load()
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    try:
        obj = importlib.import_module(module_name)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        msg = f"cannot import {target!r}: {exc}. Is the package installed (pip install -e '.[extras]')?"
        raise ParbenchError(msg) from exc
    return obj


@dataclass
class _Entry:
    target: Any
    meta: dict[str, Any] = field(default_factory=dict)
    loaded: Any = None


class Registry(Generic[T]):
    """Names of one kind mapped to lazily imported objects.

    Args:
        kind: The kind of thing registered, used in error messages ("method", "track").
        base_cls: Optional class every materialised object must be (a subclass of).
        group: Entry-point group scanned once for plugins.
    """

    def __init__(self, kind: str, *, base_cls: type | None = None, group: str | None = None) -> None:
        self.kind = kind
        self.base_cls = base_cls
        self.group = group
        self._entries: dict[str, _Entry] = {}
        self._frozen = False
        self._plugins_loaded = group is None

    def register(self, name: str, target: Any, *, replace: bool = False, **meta: Any) -> None:
        """Register ``name`` -> ``target`` (a ``"module:Object"`` string, entry point or object).

        Raises:
            ParbenchError: The registry is frozen, or the name exists and ``replace`` is False.
        """
        if self._frozen:
            msg = f"the {self.kind} registry is frozen; cannot register {name!r}."
            raise ParbenchError(msg)
        if name in self._entries and not replace:
            existing = self._entries[name].target
            msg = f"{self.kind} {name!r} is already registered as {existing!r}; new target {target!r}."
            raise ParbenchError(msg)
        self._entries[name] = _Entry(target, dict(meta))

    def freeze(self) -> None:
        """Refuse further registrations."""
        self._frozen = True

    def _clear(self) -> None:
        """Remove every entry and unfreeze (tests only)."""
        self._entries.clear()
        self._frozen = False
        self._plugins_loaded = self.group is None

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name not in self._entries:
                self._entries[ep.name] = _Entry(ep, {"plugin": True})

    def names(self) -> list[str]:
        """Return every registered name, sorted."""
        self._load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._entries

    def meta(self, name: str) -> dict[str, Any]:
        """Return the metadata stored with ``name`` (without importing it)."""
        return self._entry(name).meta

    def target(self, name: str) -> str:
        """Return the ``"module:Object"`` string of ``name``."""
        target = self._entry(name).target
        if isinstance(target, EntryPoint):
            return target.value
        if isinstance(target, str):
            return target
        return f"{target.__module__}:{target.__qualname__}"

    def _entry(self, name: str) -> _Entry:
        self._load_plugins()
        if name not in self._entries:
            raise closest_names_error(self.kind, name, self._entries)
        return self._entries[name]

    def get(self, name: str) -> T:
        """Import (once) and return the object registered as ``name``.

        Raises:
            UnknownNameError: ``name`` is not registered; the message lists close names.
            ParbenchError: The target cannot be imported or is not a ``base_cls``.
        """
        entry = self._entry(name)
        if entry.loaded is None:
            obj = load_target(entry.target)
            if self.base_cls is not None and not (isinstance(obj, type) and issubclass(obj, self.base_cls)):
                msg = f"{self.kind} {name!r} -> {entry.target!r} is not a subclass of {self.base_cls.__name__}."
                raise ParbenchError(msg)
            entry.loaded = obj
        return entry.loaded


@dataclass(frozen=True)
class MethodEntry:
    """A row of :data:`METHODS`: the class, its track, config overrides (ablations) and kind."""

    target: str
    track: str
    config: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "method"


@dataclass(frozen=True)
class TrackEntry:
    """A row of :data:`TRACKS`: the track class and what the nox sessions and the README's table say of it.

    Attributes:
        target: ``"module:Object"`` of the :class:`~harness.api.Track` subclass.
        task: The task, its method and its baselines, in one line.
        default_data: The embedded default data, in a few words.
        extras: The ``pyproject.toml`` extra its methods need (installed by its bench session).
        bench_jobs: Jobs its bench session runs at once (each gets cpu_count / bench_jobs threads).
        bench: False for a track that only tests the engine (no bench session, no leaderboard).
    """

    target: str
    task: str
    default_data: str
    extras: str = ""
    bench_jobs: int = 1
    bench: bool = True


#: Built-in tracks, sorted by name. Adding a track: its package under ``harness/tracks/<name>/`` and one line
#: here; ``nox -l``, ``parbench list tracks`` and the README's track table follow from this table.
TRACKS: dict[str, TrackEntry] = {
    "active": TrackEntry(
        "harness.tracks.active:ActiveTrack",
        "active learning: the triple-measure method against standard query strategies",
        "UCI tables shipped with scikit-learn + `make_classification` variants",
        extras="active",
    ),
    "anomaly": TrackEntry(
        "harness.tracks.anomaly:AnomalyTrack",
        "industrial anomaly detection: SNARM against PatchCore, PaDiM, STFPM, Reverse Distillation, FastFlow "
        "(through anomalib) and a per-pixel floor",
        "synthetic MVTec AD-layout categories",
        extras="anomaly",
        bench_jobs=2,
    ),
    "earlyexit": TrackEntry(
        "harness.tracks.earlyexit:EarlyExitTrack",
        "early-exit vision transformers: LGViT against linear exits (ViT-EE / DeeBERT), PABEE, PCEE, a learned exit "
        "policy (BERxiT) and static truncation, on accuracy against measured speed-up",
        "synthetic CIFAR-10-layout shape, colour and texture classes (and scikit-learn's digits)",
        extras="earlyexit",
        bench_jobs=2,
    ),
    "fedrec": TrackEntry(
        "harness.tracks.fedrec:FedRecTrack",
        "federated recommendation: PLGC on FedMF, FedNCF, PFedRec; popularity and centralised MF references",
        "synthetic MovieLens-100K-format `u.data`",
        extras="plots",
    ),
    "prompt": TrackEntry(
        "harness.tracks.prompt:PromptTrack",
        "prompt learning on a frozen CLIP: adaptive multi-modality prompts (AMMPL) against zero-shot CLIP, a linear "
        "probe, CoOp, CoCoOp, MaPLe and VPT-shallow, few-shot and base-to-novel",
        "synthetic CoOp-layout colour-and-shape objects, and a tiny CLIP pre-trained on their captions",
        extras="prompt",
        bench_jobs=2,
    ),
    "reid": TrackEntry(
        "harness.tracks.reid:ReidTrack",
        "unsupervised person re-ID: pseudo-pair self-similarity against Cluster-Contrast, bottom-up clustering, a "
        "hand-crafted floor and a supervised reference",
        "synthetic Market-1501-layout pedestrians seen by six cameras",
        extras="reid",
        bench_jobs=2,
    ),
    "wsol": TrackEntry(
        "harness.tracks.wsol:WsolTrack",
        "weakly supervised object localization: BCD + WE against CAM, Hide-and-Seek, PSOL and a centre-box floor",
        "synthetic CUB-200-2011-layout shapes on cluttered backgrounds",
        extras="wsol",
        bench_jobs=2,
    ),
    "seqrec": TrackEntry(
        "harness.tracks.seqrec:SeqRecTrack",
        "LLM-based sequential recommendation: CPRec (all-domain continual pre-training of a causal LM, WSA schedule) "
        "against popularity, GRU4Rec, SASRec, BERT4Rec and a TALLRec-style LM tuned on one domain",
        "synthetic Amazon-layout shoppers over three domains, titles built from item attributes",
        extras="seqrec",
        bench_jobs=2,
    ),
    "teaching": TrackEntry(
        "harness.tracks.teaching:TeachingTrack",
        "multimodal teaching-style regression: AMMDNN against ridge, SVR, gradient boosting, early- and late-fusion "
        "and single-task MLPs (scikit-learn) and the mean predictor",
        "synthetic classes of 60 teachers: four modalities, four style dimensions",
        extras="teaching",
        bench_jobs=2,
    ),
    "toy": TrackEntry(
        "harness.tracks.toy:ToyTrack", "engine self-test (tests only)", "Gaussian blobs", bench=False
    ),
}

#: Built-in methods and baselines, sorted by name. See the module docstring to add one.
METHODS: dict[str, MethodEntry] = {
    "al-coreset": MethodEntry("baselines.active_learning:CoreSet", "active", kind="baseline"),
    "al-entropy": MethodEntry(
        "baselines.active_learning:UncertaintySampling", "active", {"measure": "entropy"}, kind="baseline"
    ),
    "al-information-density": MethodEntry("baselines.active_learning:InformationDensity", "active", kind="baseline"),
    "al-least-confidence": MethodEntry(
        "baselines.active_learning:UncertaintySampling", "active", {"measure": "least_confidence"}, kind="baseline"
    ),
    "al-margin": MethodEntry(
        "baselines.active_learning:UncertaintySampling", "active", {"measure": "margin"}, kind="baseline"
    ),
    "al-quire": MethodEntry("baselines.active_learning:Quire", "active", kind="baseline"),
    "al-random": MethodEntry("baselines.active_learning:RandomSampling", "active", kind="baseline"),
    "ammdnn": MethodEntry("methods.ammdnn:Ammdnn", "teaching"),
    "ammdnn-early-fusion": MethodEntry("methods.ammdnn:Ammdnn", "teaching", {"paths": False}),
    "ammdnn-mse": MethodEntry("methods.ammdnn:Ammdnn", "teaching", {"loss": "mse"}),
    "ammdnn-no-attention": MethodEntry("methods.ammdnn:Ammdnn", "teaching", {"attention": False}),
    "ammdnn-single-task": MethodEntry("methods.ammdnn:Ammdnn", "teaching", {"multi_task": False}),
    "ammpl": MethodEntry("methods.ammpl:Ammpl", "prompt"),
    "ammpl-no-image-prompt": MethodEntry("methods.ammpl:Ammpl", "prompt", {"image_prompt": False}),
    "ammpl-no-masking": MethodEntry("methods.ammpl:Ammpl", "prompt", {"masking": False}),
    "ammpl-no-text-padding": MethodEntry("methods.ammpl:Ammpl", "prompt", {"text_padding": False}),
    "bcd-no-we": MethodEntry("methods.bcd_we:BcdWe", "wsol", {"we_weight": 0.0}),
    "bcd-we": MethodEntry("methods.bcd_we:BcdWe", "wsol"),
    "bert4rec": MethodEntry("baselines.seqrec:BERT4Rec", "seqrec", kind="baseline"),
    "berxit": MethodEntry("baselines.earlyexit:LearnedPolicy", "earlyexit", kind="baseline"),
    "buc": MethodEntry("baselines.reid:BottomUp", "reid", kind="baseline"),
    "cam": MethodEntry("baselines.wsol:Cam", "wsol", kind="baseline"),
    "center-box": MethodEntry("baselines.wsol:CenterBox", "wsol", kind="baseline"),
    "central-mf": MethodEntry("baselines.fedrec:CentralMF", "fedrec", kind="baseline"),
    "cluster-contrast": MethodEntry("baselines.reid:ClusterContrast", "reid", kind="baseline"),
    "cocoop": MethodEntry("baselines.prompt:CoCoOp", "prompt", kind="baseline"),
    "coop": MethodEntry("baselines.prompt:CoOp", "prompt", kind="baseline"),
    "cprec": MethodEntry("methods.cprec:CPRec", "seqrec"),
    "cprec-cosine": MethodEntry("methods.cprec:CPRec", "seqrec", {"schedule": "cosine"}),
    "cprec-no-cpt": MethodEntry("methods.cprec:CPRec", "seqrec", {"cpt": False}),
    "cprec-no-mixed": MethodEntry("methods.cprec:CPRec", "seqrec", {"mixed": False}),
    "ee-confidence": MethodEntry(
        "baselines.earlyexit:LinearExits", "earlyexit", {"rule": "confidence"}, kind="baseline"
    ),
    "ee-entropy": MethodEntry("baselines.earlyexit:LinearExits", "earlyexit", {"rule": "entropy"}, kind="baseline"),
    "fastflow": MethodEntry("baselines.anomalib_models.fastflow:Fastflow", "anomaly", kind="baseline"),
    "fedmf": MethodEntry("baselines.fedrec:FedMF", "fedrec", kind="baseline"),
    "fedmf-plgc": MethodEntry("methods.plgc:PLGC", "fedrec", {"base": "fedmf"}),
    "fedmf-plgc-fixed-weight": MethodEntry("methods.plgc:PLGC", "fedrec", {"base": "fedmf", "weighting": "fixed"}),
    "fedmf-plgc-no-decorr": MethodEntry("methods.plgc:PLGC", "fedrec", {"base": "fedmf", "decorrelation_weight": 0.0}),
    "fedncf": MethodEntry("baselines.fedrec:FedNCF", "fedrec", kind="baseline"),
    "fedncf-plgc": MethodEntry("methods.plgc:PLGC", "fedrec", {"base": "fedncf"}),
    "gru4rec": MethodEntry("baselines.seqrec:GRU4Rec", "seqrec", kind="baseline"),
    "handcrafted": MethodEntry("baselines.reid:Handcrafted", "reid", kind="baseline"),
    "has": MethodEntry("baselines.wsol:Cam", "wsol", {"hide_probability": 0.5}, kind="baseline"),
    "hgb": MethodEntry("baselines.teaching:Hgb", "teaching", kind="baseline"),
    "late-fusion": MethodEntry("baselines.teaching:LateFusion", "teaching", kind="baseline"),
    "late-fusion-stack": MethodEntry(
        "baselines.teaching:LateFusion", "teaching", {"combine": "stack"}, kind="baseline"
    ),
    "lgvit": MethodEntry("methods.lgvit:Lgvit", "earlyexit"),
    "lgvit-global-heads": MethodEntry("methods.lgvit:Lgvit", "earlyexit", {"heads": "global"}),
    "lgvit-local-heads": MethodEntry("methods.lgvit:Lgvit", "earlyexit", {"heads": "local"}),
    "lgvit-no-distillation": MethodEntry("methods.lgvit:Lgvit", "earlyexit", {"distillation": False}),
    "linear-probe": MethodEntry("baselines.prompt:LinearProbe", "prompt", kind="baseline"),
    "maple": MethodEntry("baselines.prompt:Maple", "prompt", kind="baseline"),
    "mean-predictor": MethodEntry("baselines.teaching:MeanPredictor", "teaching", kind="baseline"),
    "mlp-early": MethodEntry("baselines.teaching:MlpEarlyFusion", "teaching", kind="baseline"),
    "mlp-single-task": MethodEntry("baselines.teaching:MlpSingleTask", "teaching", kind="baseline"),
    "pabee": MethodEntry("baselines.earlyexit:Pabee", "earlyexit", kind="baseline"),
    "padim": MethodEntry("baselines.anomalib_models.padim:Padim", "anomaly", kind="baseline"),
    "patchcore": MethodEntry("baselines.anomalib_models.patchcore:Patchcore", "anomaly", kind="baseline"),
    "pcee": MethodEntry("baselines.earlyexit:Pcee", "earlyexit", kind="baseline"),
    "pfedrec": MethodEntry("baselines.fedrec:PFedRec", "fedrec", kind="baseline"),
    "pfedrec-plgc": MethodEntry("methods.plgc:PLGC", "fedrec", {"base": "pfedrec"}),
    "pixel-gaussian": MethodEntry("baselines.pixel_gaussian:PixelGaussian", "anomaly", kind="baseline"),
    "popularity": MethodEntry("baselines.fedrec:Popularity", "fedrec", kind="baseline"),
    "pseudo-pair": MethodEntry("methods.pseudo_pair:PseudoPair", "reid"),
    "pseudo-pair-clusters": MethodEntry("methods.pseudo_pair:PseudoPair", "reid", {"labels": "clusters"}),
    "pseudo-pair-no-inter": MethodEntry("methods.pseudo_pair:PseudoPair", "reid", {"inter_weight": 0.0}),
    "pseudo-pair-no-intra": MethodEntry("methods.pseudo_pair:PseudoPair", "reid", {"intra_weight": 0.0}),
    "psol": MethodEntry("baselines.wsol:Psol", "wsol", kind="baseline"),
    "reverse-distillation": MethodEntry(
        "baselines.anomalib_models.reverse_distillation:ReverseDistillation", "anomaly", kind="baseline"
    ),
    "ridge": MethodEntry("baselines.teaching:Ridge", "teaching", kind="baseline"),
    "sasrec": MethodEntry("baselines.seqrec:SASRec", "seqrec", kind="baseline"),
    "scr-we": MethodEntry("methods.bcd_we:BcdWe", "wsol", {"localizer": "scr"}),
    "seq-popularity": MethodEntry("baselines.seqrec:Popularity", "seqrec", kind="baseline"),
    "snarm": MethodEntry("methods.snarm:Snarm", "anomaly"),
    "snarm-mlp": MethodEntry("methods.snarm:Snarm", "anomaly", {"mixer": "mlp"}),
    "snarm-no-intra": MethodEntry("methods.snarm:Snarm", "anomaly", {"use_intra": False}),
    "snarm-one-head": MethodEntry("methods.snarm:Snarm", "anomaly", {"n_heads": 1}),
    "static-truncation": MethodEntry("baselines.earlyexit:StaticTruncation", "earlyexit", kind="baseline"),
    "stfpm": MethodEntry("baselines.anomalib_models.stfpm:Stfpm", "anomaly", kind="baseline"),
    "supervised": MethodEntry("baselines.reid:Supervised", "reid", kind="reference"),
    "svr": MethodEntry("baselines.teaching:Svr", "teaching", kind="baseline"),
    "tallrec": MethodEntry("baselines.seqrec_lm:TallRec", "seqrec", kind="baseline"),
    "toy-centroid": MethodEntry("harness.tracks.toy:NearestCentroid", "toy"),
    "toy-centroid-shrunk": MethodEntry(
        "harness.tracks.toy:NearestCentroid", "toy", {"shrinkage": 0.5}, kind="baseline"
    ),
    "toy-noop": MethodEntry("harness.tracks.toy:NoOp", "toy", kind="baseline"),
    "triple-measures": MethodEntry("methods.triple_measures:TripleMeasures", "active"),
    "triple-measures-no-uncertainty": MethodEntry(
        "methods.triple_measures:TripleMeasures", "active", {"use_uncertainty": False}
    ),
    "triple-measures-unweighted": MethodEntry(
        "methods.triple_measures:TripleMeasures", "active", {"probability_weighting": False}
    ),
    "vpt-shallow": MethodEntry("baselines.prompt:VptShallow", "prompt", kind="baseline"),
    "zero-shot": MethodEntry("baselines.prompt:ZeroShot", "prompt", kind="baseline"),
}


def _build() -> tuple[Registry[Any], Registry[Any]]:
    from harness.api import Method, Track

    track_registry: Registry[Any] = Registry("track", base_cls=Track, group="parbench.tracks")
    for name, entry in TRACKS.items():
        track_registry.register(name, entry.target, entry=entry)
    method_registry: Registry[Any] = Registry("method", base_cls=Method, group="parbench.methods")
    for name, entry in METHODS.items():
        method_registry.register(
            name, entry.target, track=entry.track, config=dict(entry.config), kind=entry.kind
        )
    return track_registry, method_registry


tracks, methods = _build()


def methods_of(track: str) -> list[str]:
    """Return the names of the methods of ``track``, plugins included (imports plugins only).

    A plugin that fails to import is left out with a warning that names it and its entry point, so one broken
    package stops no track.
    """
    names = []
    for name in methods.names():
        meta = methods.meta(name)
        method_track = meta.get("track")
        if method_track is None:  # a plugin: its class says which track and kind it is
            try:
                method_cls = methods.get(name)
            except Exception as exc:  # noqa: BLE001 - any failure of a plugin's import is reported, not raised
                if not meta.get("warned"):
                    meta["warned"] = True
                    warnings.warn(
                        f"method plugin {name!r} ({methods.target(name)}) cannot be loaded and is left out: "
                        f"{type(exc).__name__}: {exc}",
                        PluginWarning,
                        stacklevel=2,
                    )
                continue
            method_track = meta["track"] = method_cls.track
            meta["kind"] = method_cls.kind
        if method_track == track:
            names.append(name)
    return names


def method_kind(name: str) -> str:
    """Return ``"method"`` or ``"baseline"`` for method ``name`` without importing it."""
    return str(methods.meta(name).get("kind", "method"))


def method_config(name: str) -> dict[str, Any]:
    """Return the config overrides registered with method ``name``."""
    return dict(methods.meta(name).get("config", {}))
