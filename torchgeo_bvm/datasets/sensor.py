"""What a sensor of the imagery core declares.

:class:`SensorDeclaration` holds the class attributes and the small methods a
sensor's dataset sets or overrides (see ``docs/architecture.rst``, "How to add
a sensor"), with the defaults of a sensor that has none of them;
:class:`~torchgeo_bvm.datasets.imagery.ImageryDataset` inherits it and reads
through them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..errors import BVMValueError
from .mosaic import MonthReducer
from .products import ArchiveNaming, DownloadNaming, Product

__all__ = ['SensorDeclaration']


class SensorDeclaration:
    """The declarations of one sensor, and their defaults.

    A sensor's dataset sets the class attributes and overrides
    :meth:`missing_mask` (its message, or just :attr:`missing_mask_message`),
    :meth:`derive` (bands computed after reading, values converted) and
    :meth:`select` (the products it keeps).
    """

    #: The sensor, as messages name it (``'Sentinel-2'``).
    sensor: ClassVar[str] = 'imagery'
    #: How the archive names a product's files (matched by ``filename_regex``;
    #: None: the sensor has no archive layout).
    archive: ClassVar[ArchiveNaming | None] = None
    #: How the downloader names its files (None: the sensor has no downloads).
    download: ClassVar[DownloadNaming | None] = None
    #: Native resolution in metres of every band and of the validity layer.
    native_resolution: ClassVar[Mapping[str, float]] = {}
    #: The validity layer's band name (None: the sensor has none).
    mask_band: ClassVar[str | None] = None
    #: Bands shown by ``plot`` when ``rgb_bands`` are not all loaded.
    false_colour_bands: ClassVar[tuple[str, ...]] = ()
    #: Digital numbers are the physical value times this factor.
    scale: ClassVar[float] = 1.0
    #: The first year the sensor observed (``years`` are checked against it).
    first_year: ClassVar[int] = 1970
    #: The start of the header cache file's name.
    index_prefix: ClassVar[str] = 'imagery'
    #: How a month's observations become one step of a monthly series without
    #: a composite: their per-pixel ``'median'`` (digital numbers, rounded as
    #: the downloader's int16 composites) or ``'mean'`` (values as they are).
    month_reducer: ClassVar[MonthReducer] = 'median'
    #: The message of a downloaded file without the validity layer, with
    #: ``{path}``, ``{band}`` (:attr:`mask_band`) and ``{names}`` (its bands).
    missing_mask_message: ClassVar[str] = (
        '{path}: has no {band} band (bands: {names}); pass mask_rule=None to read '
        'it without one'
    )

    @classmethod
    def missing_mask(cls, path: str, names: list[str]) -> Exception:
        """The error of a downloaded file without the validity layer.

        Args:
            path: the file.
            names: its band names.

        Returns:
            The error to raise (:attr:`missing_mask_message`).
        """
        return BVMValueError(
            cls.missing_mask_message.format(
                path=path, band=cls.mask_band, names=', '.join(names)
            )
        )

    def derive(
        self, image: NDArray[np.float32], valid: NDArray[np.bool_]
    ) -> NDArray[np.float32]:
        """A sample's ``image`` from the values of its source bands.

        Called on every sample after its dates are read and merged (and a
        month's observations reduced), before ``transforms``; override to
        convert values or compute bands (default: unchanged).

        Args:
            image: ``[..., C, H, W]``, one channel per source band, the
                fill value where ``valid`` is False.
            valid: ``[..., H, W]``.

        Returns:
            ``[..., len(bands), H, W]`` float32.
        """
        return image

    def select(self, products: list[Product]) -> list[Product]:
        """The products found that the dataset keeps (override to choose some).

        Args:
            products: every product found under the paths.

        Returns:
            Those kept (default: all).
        """
        return products
