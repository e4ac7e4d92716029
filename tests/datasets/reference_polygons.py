"""The plain path to BVM labels: shapely polygons in memory and an STRtree.

This is how :class:`~torchgeo_bvm.datasets.BVMDataset` rasterised a window
before its polygons were prepared into a
:class:`~torchgeo_bvm.bvm.polygonstore.PolygonStore`: read the layer, repair it, drop
empty geometries (and points or lines), sort by area (larger first, stable), reproject the vertices,
index them in a :class:`shapely.STRtree`, and burn the polygons whose bounding
box meets the window's, in burn order. The tests check the prepared path against
it pixel for pixel.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray

from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.datasets.bvm import BVMDataset
from torchgeo_bvm.spatial.geometry import repair_polygons, reproject_geometry
from torchgeo_bvm.spatial.scanline import burn_polygons


class PlainPolygons:
    """A layer's polygons as shapely objects in burn order, in a dataset's CRS.

    Args:
        ds: the dataset (its source, label ids and CRS are used).
    """

    def __init__(self, ds: BVMDataset) -> None:
        if ds.source.endswith(('.parquet', '.geoparquet')):
            frame = gpd.read_parquet(ds.source)
        else:
            frame = gpd.read_file(ds.source, layer=ds.layer, engine='pyogrio')
        geometries = np.asarray(frame.geometry.to_numpy(), dtype=object)
        geometries, _ = repair_polygons(geometries)
        keep = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
        keep &= np.isin(shapely.get_type_id(geometries), (3, 6))  # polygonal
        geometries, labels = geometries[keep], ds.mapping_result.ids[keep]
        order = np.argsort(-shapely.area(geometries), kind='stable')
        self.geometries = reproject_geometry(
            geometries[order], ds.source_crs, ds.crs, 0.0
        )
        self.labels = labels[order]
        self.tree = shapely.STRtree(self.geometries)

    def hits(self, transform: Affine, width: int, height: int) -> NDArray[np.intp]:
        """The polygons whose bounding box meets a window's, in burn order."""
        west, north = transform @ (0, 0)
        east, south = transform @ (width, height)
        window = shapely.box(
            min(west, east), min(south, north), max(west, east), max(south, north)
        )
        return np.sort(self.tree.query(window))

    def rasterize(
        self, transform: Affine, width: int, height: int
    ) -> NDArray[np.uint8]:
        """Class ids of a window, IGNORE_INDEX where no polygon lies."""
        hits = self.hits(transform, width, height)
        if not len(hits) or width == 0 or height == 0:
            return np.full((height, width), IGNORE_INDEX, dtype=np.uint8)
        return burn_polygons(
            self.geometries[hits],
            self.labels[hits],
            transform,
            (height, width),
            IGNORE_INDEX,
        )
