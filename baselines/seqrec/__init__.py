"""Baselines of the ``seqrec`` track: popularity, GRU4Rec, SASRec, BERT4Rec (ID-based); see README.md."""

from baselines.seqrec.bert4rec import BERT4Rec
from baselines.seqrec.gru4rec import GRU4Rec
from baselines.seqrec.popularity import Popularity
from baselines.seqrec.sasrec import SASRec

__all__ = ["BERT4Rec", "GRU4Rec", "Popularity", "SASRec"]
