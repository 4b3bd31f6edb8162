"""Peer methods written for the workbench from their papers, each with an importer for official weights.

Every module records its source (paper, official repository and commit read). Models are registered in
:mod:`workbench.zoo`; this package imports nothing on its own so that one baseline never pulls in another.
"""
