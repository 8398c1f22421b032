"""The embedded default data of the ``active`` track, written as CSV files for the tabular loader.

:func:`generate` writes one ``<subset>.csv`` per subset (header ``x0,...,x<d-1>,label``), the layout that
:func:`harness.tracks.active.tabular.load_subset` reads, so the default data goes through the loader of a user's
own CSV files. Two kinds of subsets:

- ``iris``, ``wine``, ``breast_cancer``, ``digits``: the UCI datasets that scikit-learn ships inside its
  package (``sklearn.datasets.load_*``; no download), written value for value.
- ``imbalanced``, ``many_classes``, ``overlapping``: ``sklearn.datasets.make_classification`` variants
  drawn from the seed (parameters in :data:`VARIANTS`): a 80/15/5 % class imbalance, ten classes, and two
  classes whose clusters overlap with 5 % flipped labels.

References:
    Fisher (1936), iris; Aeberhard & Forina (1991), wine; Street, Wolberg & Mangasarian (1993), breast cancer
    Wisconsin (diagnostic); Alpaydin & Kaynak (1998), optical recognition of handwritten digits; all from the
    UCI Machine Learning Repository (https://archive.ics.uci.edu), CC BY 4.0. Guyon (2003), the
    ``make_classification`` design (scikit-learn, BSD-3-Clause).

License:
    The UCI datasets: CC BY 4.0. The generated variants: Apache-2.0, as parbench.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.data.synth._staging import check_subsets, staged

__all__ = ["BUNDLED", "SUBSETS", "VARIANTS", "VERSION", "generate"]

#: Version of :func:`generate`'s output; bump it whenever the files change.
VERSION = "1"
#: The UCI datasets that scikit-learn ships, by subset name -> loader function of ``sklearn.datasets``.
BUNDLED = {"breast_cancer": "load_breast_cancer", "digits": "load_digits", "iris": "load_iris", "wine": "load_wine"}
#: The ``make_classification`` variants, by subset name -> keyword arguments.
VARIANTS: dict[str, dict[str, Any]] = {
    "imbalanced": {
        "n_samples": 600, "n_features": 10, "n_informative": 5, "n_redundant": 2, "n_classes": 3,
        "n_clusters_per_class": 1, "weights": [0.8, 0.15, 0.05], "class_sep": 1.0, "flip_y": 0.0,
    },
    "many_classes": {
        "n_samples": 800, "n_features": 16, "n_informative": 10, "n_redundant": 2, "n_classes": 10,
        "n_clusters_per_class": 1, "class_sep": 1.5, "flip_y": 0.0,
    },
    "overlapping": {
        "n_samples": 600, "n_features": 8, "n_informative": 4, "n_redundant": 2, "n_classes": 2,
        "n_clusters_per_class": 2, "class_sep": 0.5, "flip_y": 0.05,
    },
}
#: Every subset :func:`generate` writes, sorted.
SUBSETS = tuple(sorted([*BUNDLED, *VARIANTS]))


def _write_csv(path: Path, features: np.ndarray, labels: np.ndarray) -> None:
    header = ",".join([*(f"x{i}" for i in range(features.shape[1])), "label"])
    lines = [header]
    lines += [",".join([*(repr(float(v)) for v in row), str(int(c))]) for row, c in zip(features, labels, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def generate(root: Path, *, seed: int = 0, subsets: tuple[str, ...] = SUBSETS) -> None:
    """Write the default classification data: one ``<subset>.csv`` per subset under ``root``.

    Args:
        root: Folder to create; written under a temporary name, then renamed (a crash leaves no half dataset).
        seed: Seed of the ``make_classification`` variants (the bundled UCI datasets do not depend on it).
        subsets: Subsets to write, a selection of :data:`SUBSETS`.

    Raises:
        ValueError: A subset name is unknown; lists the known ones.

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp()) / "data"
        >>> generate(root, subsets=("iris",))
        >>> sorted(p.name for p in root.iterdir())
        ['iris.csv']
    """
    import sklearn.datasets

    check_subsets(subsets, SUBSETS)
    with staged(root) as folder:
        for subset in subsets:
            if subset in BUNDLED:
                features, labels = getattr(sklearn.datasets, BUNDLED[subset])(return_X_y=True)
            else:
                index = sorted(VARIANTS).index(subset)
                random_state = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
                features, labels = sklearn.datasets.make_classification(
                    **VARIANTS[subset], random_state=random_state
                )
                features = np.round(features, 6)
            _write_csv(folder / f"{subset}.csv", np.asarray(features, dtype=np.float64), np.asarray(labels))
