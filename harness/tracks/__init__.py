"""One module per track: data contract, evaluation, budget presets and default grid.

Tracks are registered by name in :data:`harness.registry.TRACKS` and imported lazily.
"""
