"""Subcommands of ``torchgeo-bvm``: one module each (see :mod:`torchgeo_bvm.cli`)."""
