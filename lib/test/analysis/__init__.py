"""Scoring of tracking results (OPE metrics, GOT-10k protocol), reports and submission packing.

numpy only; see README.md in this folder for the rules and the command lines. Import the submodules directly
(`lib.test.analysis.metrics`, `.extract`, `.report`, `.packing`) so nothing heavy is loaded by accident.
"""
