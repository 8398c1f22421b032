"""parbench: every method plays the same par.

The engine of the benchmark: contracts (:mod:`harness.api`), the lazy registry
(:mod:`harness.registry`), the isolated job runner (:mod:`harness.runner`), the Parquet
result store (:mod:`harness.store`), leaderboards and the regression check. Importing
this package imports neither torch nor any track-specific library.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
