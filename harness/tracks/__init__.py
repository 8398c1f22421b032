"""One package per track: ``harness/tracks/<name>/``.

A track package holds what only that track uses: its :class:`~harness.api.Track` subclass and budget presets
(``track.py``), the loaders of its official dataset layouts, its synthetic generator (``synth.py``), the base
classes its methods implement, its simulator, its figures (``figures.py``). What several tracks share stays
in the engine (:mod:`harness.data`, :mod:`harness.metrics`, :mod:`harness.backbones`).

Adding a track is one new package here and one line in :data:`harness.registry.TRACKS`; the nox sessions,
``parbench list tracks`` and the README's track table follow from the registry.
"""
