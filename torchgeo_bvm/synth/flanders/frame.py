"""The frame every step of the mini-Flanders land cover is drawn in.

:class:`Frame` holds the region in metres (its box, Flanders within it, the
imaged extent), the smooth suitability fields the land cover follows and the
city; :class:`CellFacts` what the whole-cell cover learnt about each field,
which the patches and narrow features are placed by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from ..noise import MapField, seeded_rng
from .geometry import curve
from .region import TARGET_SHARES, MiniFlandersSize

__all__ = ['CellFacts', 'Frame']


class Frame:
    """The region, Flanders and the random fields of one mini-Flanders.

    Positions are given in coordinates normalised to the region (0..1 across
    and up), so every size has the same geography, while widths and polygon
    sizes are in metres as in the real map.

    Args:
        size: the region.
        seed: the scene's seed.
        extent: the imaged extent in EPSG:31370, which the polygons cover.
        sheet_area: the sheets the region touches; Flanders is cut from them.
    """

    def __init__(
        self,
        size: MiniFlandersSize,
        seed: int,
        extent: tuple[float, float, float, float],
        sheet_area: BaseGeometry,
    ) -> None:
        self.seed = seed
        self.region = size.bounds
        self.region_box = box(*size.bounds)
        x0, y0, x1, y1 = size.bounds
        self.width, self.height = x1 - x0, y1 - y0
        self.area = self.width * self.height
        self.scale = min(self.width, self.height)
        self.extent = extent
        self.world_box = box(*extent)
        self.rng = seeded_rng(seed, 1)
        names = ('urban', 'wood', 'grass', 'sand', 'hedges')
        spans = (0.08, 0.06, 0.1, 0.15, 0.12)
        self.fields = {
            name: MapField(extent, seeded_rng(seed, 10 + i), span * self.scale)
            for i, (name, span) in enumerate(zip(names, spans, strict=True))
        }
        self.city = self.metres([(0.6, 0.56)])[0]
        self.city_radius = 0.22 * self.height
        self.river_width = float(np.clip(0.012 * self.height, 40.0, 150.0))
        self.flanders = self._flanders(sheet_area)
        # What the BVM maps: the region, inside Flanders.
        self.mapped = self.region_box.intersection(self.flanders)

    def metres(
        self, uv: Sequence[tuple[float, float]] | NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """EPSG:31370 coordinates of points given as shares of the region.

        Args:
            uv: ``(n, 2)``: 0..1 across (west to east) and up (south to north).

        Returns:
            ``(n, 2)`` in metres.
        """
        uv = np.asarray(uv, dtype=np.float64)
        x0, y0 = self.region[0], self.region[1]
        return np.column_stack(
            [x0 + uv[:, 0] * self.width, y0 + uv[:, 1] * self.height]
        )

    def target(self, name: str) -> float:
        """Target area (m²) of a class in the region.

        Args:
            name: the class name.

        Returns:
            Its share of :data:`~torchgeo_bvm.synth.flanders.region.TARGET_SHARES`
            times the region's area.
        """
        return TARGET_SHARES[name] * self.area

    def in_region(self, geometry: BaseGeometry) -> float:
        """Area of ``geometry`` that the BVM maps (inside the region and Flanders).

        Args:
            geometry: a polygon in EPSG:31370.

        Returns:
            The area in m².
        """
        return float(geometry.intersection(self.mapped).area)

    def quadrant(self, geometries: NDArray[np.object_]) -> NDArray[np.int64]:
        """0 NW, 1 NE, 2 SW, 3 SE: the kbl4 sheets around the region's centre.

        Args:
            geometries: polygons.

        Returns:
            The quadrant of a point on the surface of each.
        """
        point = shapely.point_on_surface(geometries)
        east = shapely.get_x(point) >= (self.region[0] + self.region[2]) / 2
        south = shapely.get_y(point) < (self.region[1] + self.region[3]) / 2
        return east.astype(np.int64) + 2 * south.astype(np.int64)

    def _flanders(self, sheet_area: BaseGeometry) -> BaseGeometry:
        """Flanders: the sheets minus a north-eastern corner beyond a wiggly border."""
        points = self.metres(
            [
                (0.4, 3.0),
                (0.48, 1.3),
                (0.55, 1.0),
                (0.68, 0.86),
                (0.8, 0.78),
                (1.0, 0.66),
                (1.3, 0.5),
                (3.0, -0.2),
            ]
        )
        border = curve(
            points, seeded_rng(self.seed, 4), 0.01 * self.scale, 0.005 * self.scale
        )
        coords = shapely.get_coordinates(border)
        far = self.metres([(3.0, 3.0)])
        outside = shapely.make_valid(Polygon(np.vstack([coords, far])))
        return sheet_area.difference(outside)


@dataclass(frozen=True)
class CellFacts:
    """What the whole-cell cover learnt about each field.

    Args:
        area: each field's area (m²).
        in_region: whether it meets the mapped region.
        quadrants: its kbl4 quarter (:meth:`Frame.quadrant`).
        d_river: distance of its centroid to the river (m).
        d_village: distance of its centroid to the nearest village (m).
        sand: the sand field at its centroid.
    """

    area: NDArray[np.float64]
    in_region: NDArray[np.bool_]
    quadrants: NDArray[np.int64]
    d_river: NDArray[np.float64]
    d_village: NDArray[np.float64]
    sand: NDArray[np.float64]
