"""The ``seqrec`` track: sequential recommendation over several domains, LM-based and ID-based recommenders.

The data contract: :mod:`~harness.tracks.seqrec.contract`; the budget: :mod:`~harness.tracks.seqrec.budget`; the
methods' base class: :mod:`~harness.tracks.seqrec.method`.
"""
