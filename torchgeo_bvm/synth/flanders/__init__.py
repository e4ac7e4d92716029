"""Mini-Flanders: a small, deterministic region around Gent in the real formats.

:func:`write_mini_flanders` writes everything the package reads, for one region
of sheet 22 (Gent), so that the whole pipeline can run on a fresh machine:

* ``bvm/BwkHab.shp``: a BVM layer with every field of INBO's ``BwkHab``
  (:func:`torchgeo_bvm.synth.bvm.write_bwkhab`), mapping units drawn so that
  all 14 classes occur with shares like the paper's Table 1 (the rare classes
  raised to at least :data:`RARE_FLOOR` of the area so that their metrics are
  defined), polygons of realistic shapes and sizes: patchworks of fields in
  differently oriented landscape blocks, small urban blocks in the city,
  clustered woods, a meandering tidal river with mudflats, salt marsh, dykes
  and dunes on its banks, a canal, roads, a railway and streams, and narrow
  hedges, tree rows and verges (5-12 m wide) on field edges. Patches such as
  heath clearings, ponds and orchards are holes in their host polygon; a few
  small features overlap the fields they are drawn over, and roads overlap the
  river at bridges, as in the real map.
* ``kbl/Kbl.shp``, ``Kbl4.shp``, ``Kbl8.shp``, ``Kbl16.shp``: the official sheet
  files of the 1:50,000 sheets the region touches
  (:func:`torchgeo_bvm.synth.kbl.write_official_sheets`).
* ``boundary/Refgew.shp``: a Flanders boundary in the format of the VRBG's
  ``Refgew.shp``, whose border cuts through the region's north-east: there the
  imagery goes on but the BVM has no polygon.
* ``TOC_V2/YYYY/MM/DD/<product>/``: Terrascope TOC products of MGRS tile 31UES
  (UTM 31N) for :data:`DATES`, spring, summer and autumn of two years
  (:func:`torchgeo_bvm.synth.sentinel2.write_terrascope_product`). Reflectance
  is rendered from the land cover: realistic spectra per class and season
  (crops bare in spring and green in summer, deciduous woods leafless in early
  spring, tides over the mudflats), each polygon its own crop and brightness,
  texture within polygons, mixed pixels at edges (rendered at 5 m, averaged to
  10 m and blurred), clouds, cloud shadows, cirrus and a no-data corner, with a
  scene classification (SCL) that marks them.
* with ``season=True``, ``season/``: a year (2022) of Terrascope products,
  three a month with the cloudiness of Flanders month by month, crops and
  meadows each with their phenology, and the monthly median composites of each
  ``kbl4`` sheet as the openEO downloader writes them
  (:mod:`~torchgeo_bvm.synth.flanders.season`);
* ``truth/``: what changed after the BVM was mapped. A share of the BVM's
  polygons (:data:`CHANGE_SHARE`, about 3 %, by the transitions that really
  happen in Flanders and more often the older their record:
  :mod:`.changes`) have a land cover that the imagery shows from their change
  year on while the BVM keeps the old record; ``truth/changes.csv`` lists
  them and ``truth/landcover_YYYY.tif`` holds the true class of every pixel
  in each year of imagery, on the label grid (:mod:`.truth`). The BVM,
  sheets and boundary are the same with or without changes.
* ``manifest.json``: what was written (paths relative to the folder), the
  region, sheets, dates, seed, size and the class pixel counts of the BVM at
  10 m; written last, so its ``complete`` flag says the folder is whole.
* ``overview.png``: the class map beside one true-colour date.

:func:`write_openeo_downloads` writes, from such a folder, the files the openEO
downloader would fetch for given sheets and dates (:mod:`.openeo`).

**Re-running** into the same folder with the same size and seed reuses what is
there when the manifest says it is complete, of this generator's version
(:data:`~torchgeo_bvm.synth.flanders.manifest.GENERATOR_VERSION`), with the
overview and the season if they are asked for, and every listed file exists
with its recorded size; otherwise everything is regenerated (each file atomically)
and files listed by an older manifest that the new run does not write are
removed. A non-empty folder without a manifest is refused, never overwritten.

Same seed and size give byte-identical files: the dBASE headers carry a fixed
date (:data:`DBF_DATE`) instead of today's, and no GeoTIFF carries a time tag.

The modules, in the order a run uses them: :mod:`.region` (sizes, dates and
class shares), :mod:`.landscape` (the land cover, drawn in the
:mod:`.frame` with the shapes of :mod:`.geometry`: :mod:`.corridors`, then
fields, then :mod:`.features`), :mod:`.kinds` (what each polygon is and its
BVM attributes), :mod:`.changes` (what changed after the mapping),
:mod:`.spectra` (reflectance per polygon and date),
:mod:`.imagery` (rasterising), :mod:`.weather` (clouds and the scene
classification, from :mod:`torchgeo_bvm.synth.noise`), :mod:`.season` (the
year of dates) with :mod:`.composites` (its monthly medians),
:mod:`.overview` (the plot), :mod:`.truth`, :mod:`.manifest` and
:mod:`.write` (the files).
"""

from typing import TYPE_CHECKING

from ...lazy import exports

if TYPE_CHECKING:
    from .changes import CHANGE_SHARE, TRANSITIONS
    from .manifest import MANIFEST_NAME, load_manifest
    from .openeo import write_openeo_downloads
    from .region import (
        DATES,
        DEFAULT_SIZE,
        RARE_FLOOR,
        SEASON_DATES,
        SEASON_YEAR,
        SIZES,
        TARGET_SHARES,
        MiniFlandersSize,
    )
    from .truth import CHANGE_COLUMNS, CHANGES_CSV, landcover_name
    from .write import DBF_DATE, write_mini_flanders, write_refgew

#: The module each public name lives in (imported on first use, so that the
#: command line reads the sizes without loading the generators).
_HOMES = {
    'CHANGE_SHARE': 'changes',
    'TRANSITIONS': 'changes',
    'CHANGE_COLUMNS': 'truth',
    'CHANGES_CSV': 'truth',
    'landcover_name': 'truth',
    'MANIFEST_NAME': 'manifest',
    'load_manifest': 'manifest',
    'write_openeo_downloads': 'openeo',
    'DATES': 'region',
    'DEFAULT_SIZE': 'region',
    'RARE_FLOOR': 'region',
    'SEASON_DATES': 'region',
    'SEASON_YEAR': 'region',
    'SIZES': 'region',
    'TARGET_SHARES': 'region',
    'MiniFlandersSize': 'region',
    'DBF_DATE': 'write',
    'write_mini_flanders': 'write',
    'write_refgew': 'write',
}

__all__ = [
    'CHANGES_CSV',
    'CHANGE_COLUMNS',
    'CHANGE_SHARE',
    'DATES',
    'DBF_DATE',
    'DEFAULT_SIZE',
    'MANIFEST_NAME',
    'RARE_FLOOR',
    'SEASON_DATES',
    'SEASON_YEAR',
    'SIZES',
    'TARGET_SHARES',
    'TRANSITIONS',
    'MiniFlandersSize',
    'landcover_name',
    'load_manifest',
    'write_mini_flanders',
    'write_openeo_downloads',
    'write_refgew',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
