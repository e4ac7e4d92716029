"""Samplers that draw crops per map sheet, with mirrored borders.

The paper splits Flanders by map sheet
(:class:`~torchgeo_bvm.sheets.scheme.SplitScheme`) and never lets a crop show pixels of
another sheet: where a crop reaches past its sheet's edge, the part outside is filled by
reflecting the pixels inside the sheet and carries no label. Two samplers implement
this:

* :class:`SheetSampler` (training): random crops, each centred on a pixel that
  lies inside one sheet of the split, inside Flanders and inside the imagery;
* :class:`SheetGridSampler` (validation, test): a fixed tiling of every
  sheet of the split.

A training crop without any labelled pixel (clouds, no labels, outside
Flanders) is replaced by :class:`CropRedraw`, which draws a new crop as
:class:`SheetSampler` draws its crops, and a new date or year from the temporal
sampler (:meth:`~torchgeo_bvm.samplers.temporal.CentreTimestampSampler.draw_at`);
the dataset only says that a crop is not clear enough
(:class:`~torchgeo_bvm.datasets.joint.Redraw`).

A third, :class:`SheetObservationSampler` (prediction maps), takes the tiles
of any sheets, of any split, on every observation of a period, sheet by sheet
and whole sheets per rank; its dataset reads them without mirroring, since
without labels no split can leak into another.

**How the sheet reaches the dataset.** A query is a plain TorchGeo ``GeoSlice``
(``x``, ``y`` slices on the imagery's pixel grid, plus the time slice that a
temporal sampler adds through ``@``), so the samplers compose with TorchGeo's
temporal samplers and any ``GeoDataset`` can read their queries. The dataset
(:class:`~torchgeo_bvm.datasets.joint.BVMSentinel2`) finds the sheet again from the
query: it is the sheet of the split whose polygon contains the centre pixel of the
window (both sides use :class:`~torchgeo_bvm.sheets.layout.SheetLayout`, so they agree
pixel for pixel). For the
rare evaluation tile whose centre pixel falls just outside its sheet (sheet edges
are not grid-aligned outside EPSG:31370), it is the sheet of the split that
overlaps the window most. The dataset then reads the window clipped to that sheet
and fills the rest by reflection
(:func:`~torchgeo_bvm.sheets.layout.mirror_sources_from_extent`).

**Reach past the edge.** A centre pixel inside the sheet and crops reaching up to
``patch_size - 1`` pixels past the edge cannot hold together. The centre rule wins: it
is what lets the dataset recover the sheet from a plain query, and it guarantees every
crop a labelled centre. A crop therefore reaches at most ``patch_size // 2`` pixels past
its sheet's edge, and every labelled pixel can appear at every position of the half of
the patch that faces the inside of its sheet (the paper's code padded by 255 px and cut
crops anywhere, so up to 255 of 256 columns could be mirror).

**Pixel grid.** Windows are snapped to the imagery's pixel grid
(:class:`~torchgeo_bvm.spatial.pixelgrid.Grid`, the dataset's ``grid`` when it is a
:class:`~torchgeo_bvm.sheets.layout.SheetDataset`, else anchored at the dataset's bounds
like TorchGeo's samplers), so data already on that grid is read without
resampling. What else the samplers take from a dataset (its layout, scheme,
sheets and Flanders region) is named by
:class:`~torchgeo_bvm.sheets.layout.SheetDataset`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from shapely.geometry import Polygon
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import SpatialSampler

from ..checks import (
    MAX_LENGTH,
    MAX_PATCH_PIXELS,
    check_count,
    check_seed,
)
from ..errors import BVMValueError
from ..sheets.codes import Sheet
from ..sheets.layout import (
    SplitRegion,
    crop_domain,
)
from ..sheets.scheme import SplitScheme
from ..spatial.pixelgrid import location_seed
from ._common import Seed, seed_or_generator, sheet_context
from .rare import RareClassCentres, check_rare_classes, label_dataset
from .temporal import CentreTimestampSampler

__all__ = [
    'CropRedraw',
    'SheetGridSampler',
    'SheetSampler',
]


class SheetSampler(SpatialSampler):
    """Random square crops centred inside the sheets of one split.

    Each crop's centre pixel (index ``size // 2`` along both axes) is drawn
    uniformly from the pixels whose centre lies inside a sheet of ``split``, inside
    Flanders (the dataset's ``flanders_region``) and inside the data footprint.
    The crop may reach up to ``size // 2`` pixels past the sheet's edge; the
    dataset mirrors that part (see the module docstring). Crops are snapped to the
    pixel grid. Compose with a temporal sampler to pick one date per crop::

        sampler = SheetSampler(ds, split='train', size=256, length=1000,
                                   generator=0) @ RandomTimestampSampler(ds)

    Re-iterating draws new crops; two samplers built with the same seed yield the
    same crops.

    With ``rare_classes`` above 0, that share of the centres is drawn where rare
    classes are instead (:class:`~torchgeo_bvm.samplers.rare.RareClassCentres`:
    coarse cells weighted by their labelled pixels' class weights, median
    frequency balancing of the split's counts); the split's labels are counted
    once, here. At 0 (the default) nothing is counted and the crops are the
    uniform ones, draw for draw.

    Args:
        dataset: the dataset (usually a
            :class:`~torchgeo_bvm.datasets.joint.BVMSentinel2`).
        split: the split to draw from.
        size: crop size in pixels.
        length: crops per epoch (default: the split's area in crops, at least 1).
        scheme: the split scheme (default: the dataset's, else the paper's).
        numbers: ``kbl`` sheet numbers (default: the dataset's, else all 43).
        roi: an extra region of interest in the dataset's CRS.
        generator: seed or random generator.
        rare_classes: the share of crop centres drawn by class weight, from 0
            (uniform) to 1 (every centre); the labels are those of the dataset
            (:func:`~torchgeo_bvm.samplers.rare.label_dataset`).

    Raises:
        ValueError: if ``size`` < 1, the split has no data, ``rare_classes``
            is not a number from 0 to 1, or is above 0 and the split holds no
            labelled pixel.
    """

    strategy = 'random'

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        split: str = 'train',
        size: int = 256,
        length: int | None = None,
        scheme: SplitScheme | None = None,
        numbers: Sequence[int | str] | None = None,
        roi: Polygon | None = None,
        generator: Seed = None,
        rare_classes: float = 0.0,
    ) -> None:
        size = check_count(size, 'size', maximum=MAX_PATCH_PIXELS)
        strength = check_rare_classes(rare_classes)
        if length is not None:
            # 0 is no "default": None is.
            length = check_count(length, 'length', maximum=MAX_LENGTH)
        super().__init__(dataset, roi=roi)
        self.size = size
        self.grid, self.layout, flanders = sheet_context(dataset, scheme, numbers)
        domain = crop_domain(self.geometry, flanders)
        self.region = SplitRegion(self.layout, split, self.grid, domain)
        #: Where the crop centres are drawn from: the region itself (uniform)
        #: or, with ``rare_classes``, by class weight too.
        self.centres: SplitRegion | RareClassCentres = self.region
        if strength > 0:
            self.centres = RareClassCentres.of(
                self.region, label_dataset(dataset), size, strength
            )
        self.generator = np.random.default_rng(seed_or_generator(generator))
        pixels = self.region.area / (self.grid.xres * self.grid.yres)
        self._length = (
            length if length is not None else max(1, int(pixels // self.size**2))
        )

    def __iter__(self) -> Iterator[tuple[slice, slice]]:
        """Draw the crops of one epoch.

        Yields:
            ``(x, y)`` slices of each crop.
        """
        columns, rows = self.centres.draw(self.generator, len(self))
        half = self.size // 2
        for column, row in zip(columns.tolist(), rows.tolist(), strict=True):
            yield self.grid.window(column - half, row - half, self.size, self.size)


class CropRedraw:
    """Replacement crops for training crops that are not clear enough.

    A :class:`~torchgeo_bvm.datasets.joint.Redraw`: the training dataset
    (:class:`~torchgeo_bvm.datasets.joint.BVMSentinel2` with ``max_redraws``)
    reads the crop a sampler yielded, and when it holds no labelled pixel asks
    for another. Attempt ``k`` at query ``(x, y, t)`` draws, from a generator
    seeded by ``seed + k`` and the query's coordinates
    (:func:`~torchgeo_bvm.spatial.pixelgrid.location_seed`), a centre pixel as
    ``crops`` draws its crops (in a sheet of its split, inside Flanders and the
    data, with its preference for rare classes), the window of the query's size
    around it, and the window's time from ``times``
    (:meth:`~torchgeo_bvm.samplers.temporal.CentreTimestampSampler.draw_at`: a
    date, or a calendar year, covering the centre). The replacement depends
    only on the seed, the query and the attempt: not on the order of queries,
    nor on the DataLoader worker that reads them::

        train = joint.for_split('train', max_redraws=50)
        crops = SheetSampler(train, split='train', size=256, generator=0)
        dates = CentreTimestampSampler(train, generator=1)
        train.redraw = CropRedraw(crops, dates, seed=0)
        sampler = crops @ dates

    Args:
        crops: the sampler whose crops are replaced.
        times: the temporal sampler composed with it.
        seed: the seed of the redraws.
    """

    def __init__(
        self, crops: SheetSampler, times: CentreTimestampSampler, seed: int = 0
    ) -> None:
        self.centres = crops.centres
        self.grid = crops.grid
        self.times = times
        self.seed = check_seed(seed)

    def __call__(
        self, query: tuple[slice, slice, slice], attempt: int
    ) -> tuple[slice, slice, slice] | None:
        """The query that replaces ``query`` at an attempt.

        Args:
            query: the query the sampler yielded.
            attempt: 1 for the first redraw, 2 for the next, ...

        Returns:
            The new window and its time, or None when no date covers the drawn
            centre.
        """
        x, y, _ = query
        _, _, width, height = self.grid.locate(x, y)
        rng = np.random.default_rng(location_seed(self.seed + attempt, x, y))
        columns, rows = self.centres.draw(rng, 1)
        column, row = int(columns[0]), int(rows[0])
        cx, cy = self.grid.centre(column, row)
        time = self.times.draw_at(float(cx), float(cy), rng)
        if time is None:
            return None
        wx, wy = self.grid.window(column - width // 2, row - height // 2, width, height)
        return wx, wy, time


class SheetGridSampler(SpatialSampler):
    """A fixed tiling of every sheet of a split, for validation and testing.

    Per sheet, the bounding box of its pixels (pixel centres inside the sheet) is
    cut into ``size`` x ``size`` tiles every ``stride`` pixels
    (:meth:`~torchgeo_bvm.sheets.layout.SplitRegion.tiles`). The tiling is
    centred on the box, so the overhang at both ends is at most half a tile and
    the outermost tiles keep their centre pixel inside the sheet; what lies beyond
    the sheet is mirrored by the dataset and carries no label, so no tile shows a
    pixel of another sheet. Tiles holding no pixel of the sheet inside Flanders and
    the data footprint are skipped. Order: sheets in order, then rows north to
    south, then columns west to east; identical on every iteration.

    With ``stride == size`` (the default) the tiles do not overlap: every pixel of
    a sheet lies in exactly one tile, so metrics count each pixel exactly once.
    A smaller stride gives overlapping tiles (context for stitched predictions);
    then pixels in overlaps are counted more than once.

    Args:
        dataset: the dataset.
        split: the split to tile, or None for every split.
        size: tile size in pixels.
        stride: step between tiles in pixels (default ``size``).
        scheme: the split scheme (default: the dataset's, else the paper's).
        numbers: ``kbl`` sheet numbers (default: the dataset's, else all 43).
        roi: an extra region of interest in the dataset's CRS.
        sheets: only these sheets: sheet codes, ``kbl`` numbers or split names
            (:meth:`~torchgeo_bvm.sheets.layout.SheetLayout.select`), those that hold
            data; a sheet named by its own code must. Default: every sheet of
            ``split`` that holds data.

    Raises:
        ValueError: if ``size`` or ``stride`` is not positive, ``stride > size``,
            the split has no data, or a sheet of ``sheets`` is unknown or holds
            no data.
    """

    strategy = 'sequential'

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        split: str | None = 'val',
        size: int = 256,
        stride: int | None = None,
        scheme: SplitScheme | None = None,
        numbers: Sequence[int | str] | None = None,
        roi: Polygon | None = None,
        sheets: str | Sequence[int | str] | None = None,
    ) -> None:
        size = check_count(size, 'size', maximum=MAX_PATCH_PIXELS)
        stride = size if stride is None else check_count(stride, 'stride')
        if stride > size:
            raise BVMValueError(
                f'need 1 <= stride <= size, got size={size}, stride={stride}: a stride '
                'larger than the tile would leave pixels uncovered'
            )
        super().__init__(dataset, roi=roi)
        self.size = size
        self.stride = stride
        self.grid, self.layout, flanders = sheet_context(dataset, scheme, numbers)
        domain = crop_domain(self.geometry, flanders)
        indices, required = None, []
        if sheets is not None:
            indices = self.layout.select(sheets)
            required = self.layout.select(sheets, exact=True)
            if split is not None:
                indices = [i for i in indices if self.layout.splits[i] == split]
                if not indices:
                    raise BVMValueError(
                        f'none of the sheets {sheets!r} belongs to split {split!r}'
                    )
        self.region = SplitRegion(
            self.layout, split, self.grid, domain, indices, required
        )
        self.tiles: list[tuple[int, int, int]] = self.region.tiles(size, stride)
        self._length = len(self.tiles)

    def __iter__(self) -> Iterator[tuple[slice, slice]]:
        """Yield the tiles.

        Yields:
            ``(x, y)`` slices of each tile.
        """
        for _, column, row in self.tiles:
            yield self.grid.window(column, row, self.size, self.size)

    def sheet_of_tile(self, position: int) -> Sheet:
        """The sheet a tile was cut from.

        Args:
            position: the tile's position in the iteration order.

        Returns:
            The sheet.
        """
        return self.layout.sheets[self.tiles[position][0]]
