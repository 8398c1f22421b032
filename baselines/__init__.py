"""Baselines: thin adapters over well-kept libraries (anomalib, scikit-activeml); own code where none has it."""
