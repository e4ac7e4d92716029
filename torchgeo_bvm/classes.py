"""The 14 land-cover classes of the paper and the ignore value.

Class ids 0..13 follow the order of the paper's Table 1. :data:`IGNORE_INDEX`
(255) marks every pixel without a label: outside Flanders, unlabelled, cloudy or
mirrored. It is the nodata value of label rasters and the ``ignore_index`` of the
loss and metrics; use this constant, never the literal.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BVMValueError

__all__ = [
    'CLASSES',
    'CLASS_NAMES',
    'IGNORE_INDEX',
    'NUM_CLASSES',
    'PAPER_PERCENT',
    'PAPER_PIXELS',
    'BVMClass',
    'class_by_name',
]

#: Label value of pixels without a class (nodata of label rasters, ignore_index).
IGNORE_INDEX = 255


@dataclass(frozen=True)
class BVMClass:
    """One land-cover class.

    Args:
        id: class id, 0..13.
        name: display name as in the paper's Table 1.
        colour: display colour as ``#rrggbb``.
    """

    id: int
    name: str
    colour: str

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The colour as an (r, g, b) tuple of 0..255 integers."""
        return (
            int(self.colour[1:3], 16),
            int(self.colour[3:5], 16),
            int(self.colour[5:7], 16),
        )


#: The 14 classes in the order of the paper's Table 1.
CLASSES: tuple[BVMClass, ...] = (
    BVMClass(0, 'Coastal dune habitats', '#f2e394'),
    BVMClass(1, 'Cultivated land', '#e8b04a'),
    BVMClass(2, 'Grasslands', '#9fd36b'),
    BVMClass(3, 'Heathland', '#b05fa0'),
    BVMClass(4, 'Inland marshes', '#5fb7a5'),
    BVMClass(5, 'Marine habitats', '#1f5f9f'),
    BVMClass(6, 'Pioneer vegetation', '#d9d2c1'),
    BVMClass(7, 'Small Landscape Features - not Specified', '#8c8c8c'),
    BVMClass(8, 'Small Non-woody Landscape Features', '#c9e37d'),
    BVMClass(9, 'Small Woody Landscape Features', '#4f7f2a'),
    BVMClass(10, 'Unknown', '#e040fb'),
    BVMClass(11, 'Urban areas', '#d7301f'),
    BVMClass(12, 'Water bodies', '#4aa3df'),
    BVMClass(13, 'Woodland and shrub', '#1b5e20'),
)

#: Number of classes.
NUM_CLASSES = len(CLASSES)

#: Class names in id order (the ``labels`` of TorchGeo's SemanticSegmentation task).
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)


#: Pixel counts of the paper's Table 1, by class name. They add up to 144.8 M
#: pixels while the table's percentages were taken over about 129.1 M (and add
#: up to 112 %): the table is internally inconsistent (see the formats notes).
PAPER_PIXELS: dict[str, int] = {
    'Coastal dune habitats': 183_904,
    'Cultivated land': 49_007_068,
    'Grasslands': 33_033_072,
    'Heathland': 1_112_397,
    'Inland marshes': 337_316,
    'Marine habitats': 329_994,
    'Pioneer vegetation': 940_283,
    'Small Landscape Features - not Specified': 81_046,
    'Small Non-woody Landscape Features': 192_329,
    'Small Woody Landscape Features': 925_387,
    'Unknown': 13_252,
    'Urban areas': 39_130_401,
    'Water bodies': 2_883_922,
    'Woodland and shrub': 16_657_189,
}

#: Percentages of the paper's Table 1 as printed, by class name.
PAPER_PERCENT: dict[str, float] = {
    'Coastal dune habitats': 0.14,
    'Cultivated land': 37.95,
    'Grasslands': 25.58,
    'Heathland': 0.86,
    'Inland marshes': 0.26,
    'Marine habitats': 0.26,
    'Pioneer vegetation': 0.73,
    'Small Landscape Features - not Specified': 0.06,
    'Small Non-woody Landscape Features': 0.15,
    'Small Woody Landscape Features': 0.72,
    'Unknown': 0.01,
    'Urban areas': 30.30,
    'Water bodies': 2.23,
    'Woodland and shrub': 12.90,
}


def class_by_name(name: str) -> BVMClass:
    """Look a class up by its name, ignoring case and surrounding spaces.

    Args:
        name: a class name such as ``'Grasslands'``.

    Returns:
        The class.

    Raises:
        ValueError: if no class has that name; the message lists the names.
    """
    wanted = name.strip().casefold()
    for cls in CLASSES:
        if cls.name.casefold() == wanted:
            return cls
    raise BVMValueError(
        f'unknown class {name!r}: expected one of {", ".join(CLASS_NAMES)}'
    )
