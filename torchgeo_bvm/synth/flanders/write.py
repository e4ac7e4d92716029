"""Writing a mini-Flanders folder: the BVM, sheets, boundary and imagery."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from ...bvm.units import UnitMapping
from ...classes import CLASSES, IGNORE_INDEX, NUM_CLASSES
from ...datasets.bands import ALL_BANDS
from ...errors import BVMValueError
from ...fileio import atomic_path
from ...sheets.codes import LEVELS, sheets
from ...spatial.crs import LAMBERT72, UTM31N
from ..bvm import write_bwkhab
from ..kbl import LAMBERT72_ESRI_WKT, write_official_sheets
from .changes import CHANGE_SHARE, draw_changes, version_years
from .geometry import clean
from .imagery import (
    PixelMixes,
    Scene,
    class_pixels,
    imagery_grid,
    polygon_ids,
    surface,
    texture,
    write_tile_product,
)
from .kinds import bvm_frame
from .landscape import build_world
from .manifest import (
    GENERATOR_VERSION,
    existing_manifest,
    file_sizes,
    is_reusable,
    write_manifest,
)
from .overview import plot_overview
from .radar import RADAR_DATES, write_radar
from .region import DATES, DEFAULT_SIZE, SEASON_DATES, SEASON_YEAR, SIZES, TILE, VERSION
from .season import write_season
from .spectra import draw_traits
from .truth import (
    CHANGES_CSV,
    TRUTH_FOLDER,
    landcover_name,
    write_changes,
    write_landcover,
)
from .weather import check_sunshine, weather

__all__ = ['DBF_DATE', 'TILE', 'VERSION', 'write_mini_flanders', 'write_refgew']

#: Date written into every dBASE header, for byte-identical re-runs.
DBF_DATE = (2023, 1, 1)
#: What the manifest names as its generator: the package, whatever module
#: inside it writes.
_GENERATOR = __name__.rpartition('.')[0]

_KBL_FILES = {'kbl': 'Kbl', 'kbl4': 'Kbl4', 'kbl8': 'Kbl8', 'kbl16': 'Kbl16'}


def write_refgew(path: str | Path, region: BaseGeometry) -> Path:
    """Write a boundary in the format of the VRBG's ``Refgew.shp``.

    One polygon feature with the fields of the official file: ``UIDN``,
    ``OIDN``, ``TERRID``, ``NAAM`` ('Vlaams Gewest'), ``NISCODE`` ('02000'),
    ``NUTS1`` ('BE2'), ``LENGTE`` and ``OPPERVL`` (perimeter and area in m), in
    EPSG:31370 with the ESRI "Belge_Lambert_1972" ``.prj`` of Digitaal
    Vlaanderen's files and a fixed dBASE date.

    Args:
        path: the ``.shp`` file to write (sidecars beside it).
        region: the (Multi)Polygon of Flanders in EPSG:31370.

    Returns:
        ``path``.

    Raises:
        ValueError: if ``region`` has no area.
    """
    path = Path(path)
    if region.is_empty or region.area <= 0:
        raise BVMValueError(f'{path}: the boundary to write has no area')
    frame = gpd.GeoDataFrame(
        {
            'UIDN': np.array([1], dtype=np.int64),
            'OIDN': np.array([1], dtype=np.int64),
            'TERRID': np.array([3], dtype=np.int64),
            'NAAM': ['Vlaams Gewest'],
            'NISCODE': ['02000'],
            'NUTS1': ['BE2'],
            'LENGTE': [round(region.length, 2)],
            'OPPERVL': [round(region.area, 2)],
        },
        geometry=[region],
        crs=LAMBERT72,
    )
    year, month, day = DBF_DATE
    with atomic_path(path) as temporary:
        frame.to_file(
            temporary,
            driver='ESRI Shapefile',
            engine='pyogrio',
            layer_options={'DBF_DATE_LAST_UPDATE': f'{year:04d}-{month:02d}-{day:02d}'},
        )
        temporary.with_suffix('.prj').write_text(LAMBERT72_ESRI_WKT)
    return path


def write_mini_flanders(
    out: str | Path,
    size: str = DEFAULT_SIZE,
    seed: int = 0,
    *,
    plot: bool = True,
    force: bool = False,
    progress: bool = False,
    season: bool = False,
    radar: bool = False,
    sunshine: float = 1.0,
    change_share: float = CHANGE_SHARE,
) -> dict[str, Any]:
    """Write a mini-Flanders region in the real formats (see the package).

    Args:
        out: the folder to write into (created if needed).
        size: a key of :data:`~torchgeo_bvm.synth.flanders.SIZES`.
        seed: random seed; the same seed and size give byte-identical files.
        plot: also write ``overview.png``.
        force: regenerate even if the folder is up to date.
        progress: show a progress bar.
        season: also write the season, a year of products and monthly
            composites under ``season/``
            (:mod:`~torchgeo_bvm.synth.flanders.season`); every other file is
            the same with or without it.
        radar: also write the radar season, a year of Sentinel-1 products and
            monthly means under ``radar/``
            (:mod:`~torchgeo_bvm.synth.flanders.radar`); every other file is
            the same with or without it.
        sunshine: the season's sunshine as a share of the normal year
            (:data:`~torchgeo_bvm.synth.flanders.weather.DULL_YEAR_SUNSHINE`
            for a very cloudy year); only with ``season``.
        change_share: the share of the BVM's polygons whose land cover
            changed after their mapping
            (:mod:`~torchgeo_bvm.synth.flanders.changes`); the truth is
            written under ``truth/`` (:mod:`~torchgeo_bvm.synth.flanders.truth`).

    Returns:
        The manifest (also written to ``out/manifest.json``); its paths are
        relative to ``out``, ``season`` and ``radar`` are None without them,
        and ``reused`` says whether the folder was up to date and nothing was
        written.

    Raises:
        ValueError: for an unknown size, a sunshine out of range or without
            the season, a change share outside 0 to 0.5, or a non-empty
            ``out`` without a mini-Flanders manifest (nothing is written then).
    """
    if not 0.0 <= change_share <= 0.5:
        raise BVMValueError(f'change share {change_share}: expected 0 to 0.5')
    if size not in SIZES:
        raise BVMValueError(
            f'unknown mini-Flanders size {size!r}: expected one of {", ".join(SIZES)}'
        )
    sunshine = check_sunshine(sunshine)
    if sunshine != 1.0 and not season:
        raise BVMValueError(
            f'sunshine={sunshine} sets the clouds of the season: pass season=True '
            '(--season) too'
        )
    spec = SIZES[size]
    out = Path(out)
    previous = existing_manifest(out)
    if not force and is_reusable(
        out, previous, size, seed, plot, season, radar, sunshine, change_share
    ):
        assert previous is not None
        return {**previous, 'reused': True}
    start = time.perf_counter()
    params = {
        'generator': _GENERATOR,
        'version': GENERATOR_VERSION,
        'size': size,
        'seed': seed,
        'change_share': change_share,
    }
    write_manifest(out, {**params, 'complete': False})
    steps = tqdm(
        total=6
        + len(DATES)
        + (len(SEASON_DATES) if season else 0)
        + (len(RADAR_DATES) if radar else 0),
        desc='mini-Flanders',
        disable=not progress,
        unit='step',
    )

    touched = spec.kbl_sheets()
    numbers = sorted({s.number for s in touched})
    sheet_area = shapely.union_all([box(*s.bounds) for s in touched])
    grid = imagery_grid(spec.bounds)
    to_lambert = Transformer.from_crs(UTM31N, LAMBERT72, always_xy=True)
    lx0, ly0, lx1, ly1 = to_lambert.transform_bounds(*grid.bounds, densify_pts=21)
    extent = (lx0 - 50.0, ly0 - 50.0, lx1 + 50.0, ly1 + 50.0)
    world = build_world(spec, seed, extent, sheet_area)
    steps.update()

    # The BVM: the land cover inside the region and inside Flanders.
    inside = shapely.intersection(
        world.geometries, box(*spec.bounds).intersection(world.flanders)
    )
    cleaned = np.asarray([clean(g) for g in inside], dtype=object)
    keep = ~shapely.is_empty(cleaned)
    frame = bvm_frame(cleaned[keep], world.kinds[keep], seed)
    bvm = write_bwkhab(frame, out / 'bvm' / 'BwkHab.shp')
    class_ids = UnitMapping().map_codes(frame['EENH1'], frame['HAB1']).ids
    classes = class_pixels(frame, class_ids, spec.bounds)
    changes = draw_changes(
        world.kinds[keep], version_years(frame['TAG']), seed, change_share
    )
    # The BVM's rows are the world's polygons that lie in the region.
    world = world.changed_into(
        np.flatnonzero(keep)[changes.rows], changes.new_kinds, changes.years
    )
    steps.update()

    kbl = {
        level: write_official_sheets(
            out / 'kbl' / f'{_KBL_FILES[level]}.shp', level, numbers
        )
        for level in LEVELS
    }
    boundary = write_refgew(out / 'boundary' / 'Refgew.shp', world.flanders)
    steps.update()

    mixes = PixelMixes.of(polygon_ids(world, grid), len(world.kinds))
    traits = draw_traits(world.kinds, seed)
    grain = texture(grid, seed)
    steps.update()
    products = []
    summer: NDArray[np.int16] | None = None
    for index, (sensing, platform) in enumerate(DATES):
        reflectance, scl = weather(
            surface(world, mixes, traits, grain, index, seed), index, seed
        )
        folder = write_tile_product(
            out,
            sensing,
            platform,
            grid,
            {band: reflectance[i] for i, band in enumerate(ALL_BANDS)},
            scl,
            seed * 100 + index,
        )
        if index == 1:
            summer = reflectance
        products.append((sensing, platform, folder))
        steps.update()

    kbl4 = [
        s
        for s in sheets('kbl4', numbers)
        if box(*s.bounds).intersection(box(*spec.bounds)).area > 0
    ]
    scene = Scene(world, mixes, traits, grain, grid, kbl4, seed)
    season_entry = None
    if season:
        season_entry = write_season(
            out, scene, plot=plot, on_date=steps.update, sunshine=sunshine
        )
    radar_entry = None
    if radar:
        radar_entry = write_radar(out, scene, plot=plot, on_date=steps.update)

    changes_csv = write_changes(
        out / CHANGES_CSV, frame['TAG'], frame['UIDN'], class_ids, changes
    )
    years = sorted(
        {int(s[:4]) for s, _ in DATES} | ({SEASON_YEAR} if season else set())
    )
    landcover = write_landcover(out, bvm, changes, years)
    steps.update()

    overview = None
    if plot and summer is not None:
        overview = out / 'overview.png'
        plot_overview(
            overview,
            spec,
            classes=classes,
            flanders=world.flanders,
            reflectance=summer,
            bounds=grid.bounds,
            date=DATES[1][0][:10],
        )
    steps.update()
    steps.close()

    season_folders, season_files = _season_paths(out, season_entry)
    radar_folders, radar_files = _season_paths(out, radar_entry)
    sizes = file_sizes(
        out,
        [bvm, *kbl.values(), boundary],
        [
            *(folder for *_, folder in products),
            *season_folders,
            *radar_folders,
            out / TRUTH_FOLDER,
        ],
        *season_files,
        *radar_files,
        *([overview] if overview else []),
    )
    for stale in (previous or {}).get('sizes', {}):
        if stale not in sizes:
            (out / stale).unlink(missing_ok=True)
    counts = np.bincount(classes.ravel(), minlength=IGNORE_INDEX + 1)
    manifest = {
        **params,
        'complete': True,
        'crs': 'EPSG:31370',
        'region': list(spec.bounds),
        'description': spec.description,
        'sheets': {
            'kbl': numbers,
            'kbl4': [s.code for s in kbl4],
        },
        'bvm': str(bvm.relative_to(out)),
        'kbl_files': {level: str(path.relative_to(out)) for level, path in kbl.items()},
        'boundary': str(boundary.relative_to(out)),
        'imagery': {
            'root': 'TOC_V2',
            'crs': 'EPSG:32631',
            'tile': TILE,
            'bounds': list(grid.bounds),
            'products': [
                {
                    'date': sensing[:10],
                    'sensing': sensing,
                    'platform': platform,
                    'path': str(folder.relative_to(out)),
                }
                for sensing, platform, folder in products
            ],
        },
        'dates': [sensing[:10] for sensing, *_ in products],
        'season': season_entry,
        'radar': radar_entry,
        'polygons': len(frame),
        'truth': {
            'changes': str(changes_csv.relative_to(out)),
            'landcover': {str(year): landcover_name(year) for year in landcover},
            'changed_polygons': len(changes),
            'transitions': changes.counts(),
        },
        'pixels': {c.name: int(counts[c.id]) for c in CLASSES},
        'labelled_pixels': int(counts[:NUM_CLASSES].sum()),
        'unlabelled_pixels': int(counts[IGNORE_INDEX]),
        'overview': None if overview is None else str(overview.relative_to(out)),
        'sizes': sizes,
    }
    write_manifest(out, manifest)
    return {**manifest, 'reused': False, 'seconds': time.perf_counter() - start}


def _season_paths(
    out: Path, season: dict[str, Any] | None
) -> tuple[list[Path], list[Path]]:
    """A season's (or the radar's) product folders, and its other files."""
    if season is None:
        return [], []
    files = [out / c['path'] for c in season['composites']]
    if season['overview']:
        files.append(out / season['overview'])
    return [out / p['path'] for p in season['products']], files
