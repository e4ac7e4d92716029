"""Checks every raster the package writes must pass: COG layout and colour table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import rasterio
from rio_cogeo.cogeo import cog_validate

from torchgeo_bvm.classes import CLASSES, BVMClass


def assert_valid_cog(path: str | Path) -> None:
    """``rio cogeo validate`` (GDAL's own rules): no error and no warning."""
    valid, errors, warnings = cog_validate(str(path), quiet=True)
    assert valid, f'{path}: not a valid COG: {errors}'
    assert errors == [], errors
    assert warnings == [], warnings


def assert_class_palette(
    path: str | Path, classes: Sequence[BVMClass] = CLASSES
) -> None:
    """A colour table of exactly the classes (up to the largest id), nothing more.

    QGIS's paletted renderer lists one class per entry; a TIFF's own colour map
    always has 256, so the table lives in the ``.aux.xml``.
    """
    with rasterio.open(path) as source:
        colormap = source.colormap(1)
        assert source.colorinterp[0].name == 'palette'
    assert len(colormap) == max(c.id for c in classes) + 1
    for cls in classes:
        assert colormap[cls.id] == (*cls.rgb, 255)
