"""Packages of the wheel: harness, methods and baselines, and the dataset cards as harness/_cards."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["harness*", "methods*", "baselines*"]), "harness._cards"])
