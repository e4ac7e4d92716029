"""Sentinel-2 and Sentinel-1 together: the same months, stacked per step.

:class:`OpticalRadarSeries` reads a window of an optical series (such as
:class:`~torchgeo_bvm.datasets.Sentinel2TOC`) and the same window and steps of
a radar series (:class:`~torchgeo_bvm.datasets.Sentinel1Sigma0`) and stacks
their bands per step, the optical bands first; each sensor keeps its own
validity, so a month the clouds hide keeps its radar.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torchgeo.datasets import GeoDataset
from torchgeo.datasets.utils import GeoSlice, Sample

from ..errors import BVMValueError
from ..spatial.pixelgrid import Grid
from ._fastpath import CachedBounds
from .imagery import ImageryDataset

__all__ = ['OpticalRadarSeries']


class OpticalRadarSeries(CachedBounds, GeoDataset):
    """An optical and a radar monthly series of the same months, stacked per step.

    Where and when samples exist is the optical dataset's (its index, CRS,
    resolution and pixel grid); the radar is read on the same window and
    period. Samples are

    * ``image``: float32 ``[T, C_optical + C_radar, H, W]``, the optical
      bands then the radar bands of each step;
    * ``valid``: bool ``[T, H, W]``, True where either sensor has data on the
      step (a cloudy month keeps its radar);
    * ``valid_optical`` and ``valid_radar``: each sensor's own ``valid``;
    * ``dates``, ``bounds`` and ``transform`` as the optical series has them.

    A window that no radar product covers has radar channels of 0 and
    ``valid_radar`` False everywhere.

    Args:
        optical: a monthly series (``time_series=True``, ``temporal='monthly'``).
        radar: a monthly series of the same CRS, resolution and months.
        transforms: a function applied to each sample.

    Raises:
        BVMValueError: if either is no monthly series, or they differ in CRS,
            resolution or months.
    """

    def __init__(
        self,
        optical: ImageryDataset,
        radar: ImageryDataset,
        transforms: Callable[[Sample], Sample] | None = None,
    ) -> None:
        for name, dataset in (('optical', optical), ('radar', radar)):
            if not dataset.time_series or dataset.temporal != 'monthly':
                raise BVMValueError(
                    f'the {name} imagery ({dataset.sensor}) must be a monthly '
                    "series (time_series=True, temporal='monthly') to be stacked "
                    'per month'
                )
        if optical.crs != radar.crs or tuple(optical.res) != tuple(radar.res):
            raise BVMValueError(
                f'{optical.sensor} and {radar.sensor} differ in grid: '
                f'{optical.crs.to_string()} at {tuple(optical.res)} and '
                f'{radar.crs.to_string()} at {tuple(radar.res)}'
            )
        if optical.months != radar.months:
            raise BVMValueError(
                f'{optical.sensor} and {radar.sensor} differ in months: '
                f'{sorted(optical.months or range(1, 13))} and '
                f'{sorted(radar.months or range(1, 13))}'
            )
        self.optical = optical
        self.radar = radar
        self.transforms = transforms
        self.index = optical.index
        self._res = optical.res
        self.paths = optical.paths
        #: The optical bands, then the radar bands.
        self.bands = (*optical.bands, *radar.bands)
        self.rgb_bands = tuple(optical.rgb_bands)
        self.false_colour_bands = optical.false_colour_bands

    @property
    def native_grid(self) -> Grid:
        """The optical series' pixel grid, which windows snap to."""
        return self.optical.native_grid

    def __getitem__(self, index: GeoSlice) -> Sample:
        """Read both series at a spatiotemporal slice.

        Args:
            index: ``[xmin:xmax:xres, ymin:ymax:yres, tmin:tmax:tres]``.

        Returns:
            The sample (see the class).

        Raises:
            IndexError: if the optical series has nothing at ``index``.
            BVMValueError: if a period holds no acquisition of a sensor that
                covers the window.
        """
        sample = self.optical[index]
        optical_valid: Tensor = sample['valid']
        try:
            radar = self.radar[index]
            radar_image, radar_valid = radar['image'], radar['valid']
        except IndexError:
            steps, _, height, width = sample['image'].shape
            radar_image = torch.zeros((steps, len(self.radar.bands), height, width))
            radar_valid = torch.zeros_like(optical_valid)
        sample['image'] = torch.cat([sample['image'], radar_image], dim=-3)
        sample['valid'] = optical_valid | radar_valid
        sample['valid_optical'] = optical_valid
        sample['valid_radar'] = radar_valid
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
