"""Baselines of the ``fedrec`` track: FedMF, FedNCF, PFedRec (federated), popularity, centralised MF; see README.md."""

from baselines.fedrec.central import CentralMF
from baselines.fedrec.federated import FedMF, FedNCF, PFedRec
from baselines.fedrec.popularity import Popularity

__all__ = ["CentralMF", "FedMF", "FedNCF", "PFedRec", "Popularity"]
