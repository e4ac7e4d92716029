"""Deterministic writers of the real data formats at small sizes.

These build the test fixtures and the embedded mini-Flanders of the demo: every
file they write has the field names, CRS, file names, dtypes and band layouts of
the real data (see the formats reference), so the readers are exercised exactly
as they will be on the real files. One module per format.
"""
