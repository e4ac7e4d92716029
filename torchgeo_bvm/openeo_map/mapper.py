"""``torchgeo-bvm openeo-map``: fused maps of sheets and years, made in openEO.

:func:`openeo_map` plans the sheets, writes one process graph per sheet and
year (:func:`~torchgeo_bvm.openeo_map.graph.build_map_graph`) into
``<out>/graphs/`` and the job list into ``<out>/jobs.csv``, then

* with ``dry_run``, stops there, without connecting;
* with ``backend='local'``, runs each graph's UDF here on the imagery of
  ``sentinel2`` (:mod:`~torchgeo_bvm.openeo_map.local`);
* otherwise runs one batch job per sheet and year on the backend
  (:class:`~torchgeo_bvm.openeo_map.jobs.SheetJobManager`: resumable, failed
  jobs retried) and downloads the results into ``<out>/.jobs/``;

and writes each year's maps into ``<out>/<year>/`` with the files of
``torchgeo predict`` (:mod:`torchgeo_bvm.maps.files`): per sheet the class,
``_confidence`` and ``_count`` COGs and a quick-look, the mosaic and its
quick-look, and ``prediction.json``, so ``torchgeo-bvm compare`` reads either.

**Sheets and grids.** With local imagery, the sheets, their grids, masks and
tiles are those of ``torchgeo predict`` on the same imagery (its
:class:`~torchgeo_bvm.sheets.plan.PredictionPlan`: the sheet's pixels on the
imagery's grid, inside Flanders with ``boundary``, where the imagery has
data). On a backend, the grid is the 10 m lattice of ``crs`` (edges at
multiples of 10 m, Terrascope's own UTM grid) and the mask the sheet (inside
Flanders with ``boundary``); the backend's result must lie on that lattice.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import rasterio
import shapely
from numpy.typing import NDArray
from openeo.extra.job_management import create_job_db
from openeo.rest.connection import Connection
from openeo.rest.job import BatchJob
from pyproj import CRS
from shapely.geometry.base import BaseGeometry
from tqdm.auto import tqdm

from ..checks import check_numbers
from ..classes import IGNORE_INDEX
from ..datasets.series import calendar_year
from ..download import DEFAULT_BACKEND
from ..download.backend import Backend, DownloadError
from ..errors import BVMExistsError, BVMNotFoundError, BVMValueError
from ..export.card import CARD_NAME, GRAPH_NAME, ModelCard
from ..fileio import atomic_path, check_output_folder
from ..maps.files import CONFIDENCE_SCALE
from ..maps.folder import MapRun, finish_map_run, start_map_run, write_manifest
from ..maps.fusion import (
    MAX_COUNT,
    MOSAIC,
    fused_map_files,
    plot_fused_map,
    write_fused_sheet,
    write_mosaic,
)
from ..sheets.boundary import FlandersMask, read_boundary
from ..sheets.codes import Sheet
from ..sheets.layout import SheetLayout, SheetSelection, crop_domain
from ..sheets.plan import PredictionPlan, period_name, period_words
from ..sheets.scheme import SplitScheme
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import polygon_coverage
from .graph import (
    MAP_BANDS,
    Lattice,
    MapSettings,
    build_map_graph,
    check_mappable,
    dumps,
    neighbourhood_udf,
)
from .jobs import JOB_DATABASE, JOBS_FOLDER, SheetJobManager, job_rows
from .local import LocalMap, map_lattice

if TYPE_CHECKING:
    from ..datasets.sentinel2 import Sentinel2TOC

__all__ = ['DEFAULT_MAP_CRS', 'MapSheet', 'MappedYear', 'openeo_map']

#: The CRS of maps made on a backend: Terrascope's own UTM zone for Flanders.
DEFAULT_MAP_CRS = 'EPSG:32631'

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MapSheet:
    """One sheet of a map: its grid, mask and tiles.

    Args:
        sheet: the sheet.
        grid: its pixels (the files' grid).
        lattice: its tiles.
        region: where its pixels may carry a class.
    """

    sheet: Sheet
    grid: Grid
    lattice: Lattice
    region: BaseGeometry

    def mask(self) -> NDArray[np.bool_]:
        """The pixels of :attr:`grid` that may carry a class.

        Returns:
            Boolean ``[height, width]`` (the pixel-centre rule of the labels).
        """
        return polygon_coverage(
            shapely.get_parts(self.region), self.grid.transform, self.grid.shape
        )

    @property
    def name(self) -> str:
        """The sheet's file-safe code (``22_7-8``)."""
        return self.sheet.file_safe


@dataclass(frozen=True)
class MappedYear:
    """The maps of one year.

    Args:
        year: the year.
        folder: its folder of maps.
        files: the files written, in the folder.
    """

    year: int
    folder: Path
    files: tuple[Path, ...]


def openeo_map(
    model: str | os.PathLike[str],
    sheets: str | Sequence[int | str],
    years: Sequence[int],
    out: str | os.PathLike[str],
    *,
    backend: str = DEFAULT_BACKEND,
    sentinel2: str | os.PathLike[str] | None = None,
    boundary: str | os.PathLike[str] | None = None,
    crs: str | None = None,
    settings: MapSettings | None = None,
    dry_run: bool = False,
    retries: int = 2,
    poll_seconds: int = 30,
    job_options: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> list[MappedYear]:
    """Map sheets and years in openEO (see the module).

    Args:
        model: the exported model folder (``torchgeo-bvm export``).
        sheets: sheet codes, ``kbl`` numbers or split names.
        years: the calendar years.
        out: the output folder.
        backend: the backend's URL, or ``'local'``.
        sentinel2: the local imagery (``backend='local'`` only).
        boundary: the Flanders boundary (``Refgew.shp``): pixels outside it
            carry no class.
        crs: the map's CRS (default: the local imagery's, on a backend
            :data:`DEFAULT_MAP_CRS`).
        settings: the chunking and where the backend finds the model
            (default :class:`~.graph.MapSettings`).
        dry_run: write the graphs and the job list only.
        retries: how many times a failed job is started again.
        poll_seconds: seconds between polls of the backend.
        job_options: the batch jobs' options (e.g. ``udf-dependency-archives``).
        overwrite: replace a job list and graphs of another run in ``out``.

    Returns:
        The maps of each year (none with ``dry_run``).

    Raises:
        BVMValueError: for a model that cannot be mapped, bad sheets or years.
        BVMExistsError: if ``out`` holds another run's job list, or lies where
            an input is read.
        DownloadError: if the backend cannot be reached or jobs fail for good.
    """
    settings = settings or MapSettings()
    checked = check_numbers(years, 'years', 2015, 2100)
    if not checked:
        raise BVMValueError('--years: give at least one year')
    wanted = sorted(checked)
    folder = Path(model)
    card = _read_card(folder)
    check_mappable(card, settings)
    local = backend == 'local'
    if local and sentinel2 is None:
        raise BVMValueError('--backend local needs --sentinel2, the local imagery')
    if not local and sentinel2 is not None:
        raise BVMValueError('--sentinel2 goes with --backend local only')
    out = check_output_folder(
        out,
        {'--sentinel2': [sentinel2]},
        {'--model': [folder], '--boundary': [boundary]},
    )
    flanders = None if boundary is None else read_boundary(Path(boundary))
    imagery = (
        _imagery(Path(sentinel2), card, crs, wanted) if sentinel2 is not None else None
    )
    if imagery is not None:
        plans = {y: _local_sheets(imagery, card, sheets, y, flanders) for y in wanted}
    else:
        remote = _remote_sheets(card, sheets, crs or DEFAULT_MAP_CRS, flanders)
        plans = dict.fromkeys(wanted, remote)
    jobs = [(sheet, year) for year in wanted for sheet in plans[year]]
    settings_ = _located(settings, folder, local)
    graphs = _write_graphs(out, card, jobs, settings_, overwrite)
    if dry_run:
        return []
    if imagery is not None:
        maps = _run_locally(out, imagery, jobs, graphs)
    else:
        maps = _run_jobs(out, backend, jobs, retries, poll_seconds, job_options)
    return [
        _write_year(out / period_name([year], None), year, plans[year], maps, card)
        for year in wanted
    ]


# -- planning ------------------------------------------------------------------


def _read_card(folder: Path) -> ModelCard:
    if not folder.is_dir():
        raise BVMNotFoundError(
            f'--model: {folder} is not a folder of torchgeo-bvm export'
        )
    for name in (CARD_NAME, GRAPH_NAME):
        if not (folder / name).is_file():
            raise BVMNotFoundError(
                f'--model: {folder} has no {name}; export the model with '
                'torchgeo-bvm export'
            )
    return ModelCard.read(folder / CARD_NAME)


def _imagery(
    folder: Path, card: ModelCard, crs: str | None, years: Sequence[int]
) -> Sentinel2TOC:
    # Imported here: the imagery core imports torch and TorchGeo, which a map
    # made by a remote backend never needs (openeo-map starts without them).
    from ..datasets.sentinel2 import Sentinel2TOC

    if not folder.exists():
        raise BVMNotFoundError(f'--sentinel2: {folder} does not exist')
    monthly = card.temporal == 'monthly'
    return Sentinel2TOC(
        folder,
        crs=crs,
        bands=card.bands,
        years=years,
        months=card.months if monthly else None,
        time_series=True,
        temporal='monthly' if monthly else 'dates',
    )


def _local_sheets(
    imagery: Sentinel2TOC,
    card: ModelCard,
    names: str | Sequence[int | str],
    year: int,
    flanders: BaseGeometry | None,
) -> list[MapSheet]:
    """The sheets of ``torchgeo predict`` on the same imagery."""
    grid = Grid.of(imagery)
    layout = SheetLayout(SplitScheme(), imagery.crs)
    region = _flanders_in(flanders, imagery.crs)
    plan = PredictionPlan.build(
        layout,
        grid,
        crop_domain(imagery.index.geometry.union_all(), region),
        imagery.index,
        size=card.patch_size,
        stride=card.stride,
        sheets=SheetSelection.parse(names, layout.scheme.splits),
        years=[year],
        periods=[calendar_year(year)],
    )
    return [
        MapSheet(
            sheet.sheet,
            sheet.grid,
            Lattice.of_box(
                grid,
                (
                    sheet.origin[0],
                    sheet.origin[1],
                    sheet.origin[0] + sheet.grid.shape[1],
                    sheet.origin[1] + sheet.grid.shape[0],
                ),
                card.patch_size,
                card.stride,
            ),
            sheet.region,
        )
        for sheet in plan.sheets
    ]


def _flanders_in(flanders: BaseGeometry | None, crs: CRS) -> BaseGeometry | None:
    """The Flanders boundary (Lambert 72) in a sheet layout's CRS, or None."""
    if flanders is None:
        return None
    region: BaseGeometry = FlandersMask.from_lambert72(flanders, crs).region
    return region


def _remote_sheets(
    card: ModelCard,
    names: str | Sequence[int | str],
    crs: str,
    flanders: BaseGeometry | None,
) -> list[MapSheet]:
    """The sheets on the 10 m lattice of ``crs``."""
    target = CRS.from_user_input(crs)
    if not target.is_projected:
        raise BVMValueError(
            f'--crs {crs}: maps are made on a projected 10 m grid; use '
            f"{DEFAULT_MAP_CRS} (Terrascope's own) or another projected CRS"
        )
    grid = Grid.lattice(0.0, 0.0, 10.0, 10.0, target)
    layout = SheetLayout(SplitScheme(), target)
    selection = SheetSelection.parse(names, layout.scheme.splits)
    region = _flanders_in(flanders, target)
    planned = []
    for index in selection.indices(layout):
        c0, r0, c1, r1 = box = layout.pixel_box(index, grid)
        sheet_grid = Grid(target, grid.window_transform(c0, r0), c1 - c0, r1 - r0)
        polygon = layout.polygons[index]
        allowed = polygon if region is None else polygon.intersection(region)
        planned.append(
            MapSheet(
                layout.sheets[index],
                sheet_grid,
                Lattice.of_box(grid, box, card.patch_size, card.stride),
                allowed,
            )
        )
    return planned


def _located(settings: MapSettings, folder: Path, here: bool) -> MapSettings:
    """Settings whose UDF finds the model: the folder itself where it runs here."""
    return replace(settings, model_location=str(folder.resolve())) if here else settings


def _write_graphs(
    out: Path,
    card: ModelCard,
    jobs: Sequence[tuple[MapSheet, int]],
    settings: MapSettings,
    overwrite: bool,
) -> list[str]:
    """Write ``graphs/<sheet>_<year>.json`` and, if new, the job list."""
    database = out / JOB_DATABASE
    names = [f'graphs/{sheet.name}_{year}.json' for sheet, year in jobs]
    rows = job_rows([s.sheet.code for s, _ in jobs], [y for _, y in jobs], names)
    if database.exists():
        earlier = pd.read_csv(database)
        same = list(earlier.get('graph', [])) == names
        if not same and not overwrite:
            raise BVMExistsError(
                f'{database} lists the jobs of another run; use another --out, or '
                '--overwrite to start this one afresh'
            )
        if not same:
            database.unlink()
    (out / 'graphs').mkdir(parents=True, exist_ok=True)
    for (sheet, year), name in zip(jobs, names, strict=True):
        graph = build_map_graph(card, sheet.lattice, year, settings, sheet.sheet.code)
        with atomic_path(out / name) as temporary:
            temporary.write_text(dumps(graph))
    if not database.exists():
        with atomic_path(database) as temporary:
            create_job_db(temporary, rows)
    return names


# -- running ---------------------------------------------------------------------


def _run_locally(
    out: Path,
    imagery: Sentinel2TOC,
    jobs: Sequence[tuple[MapSheet, int]],
    graphs: Sequence[str],
) -> dict[tuple[str, int], LocalMap]:
    """Each sheet's graph, as written, run here (:func:`~.local.map_lattice`)."""
    maps: dict[tuple[str, int], LocalMap] = {}
    for (sheet, year), name in zip(jobs, graphs, strict=True):
        graph = json.loads((out / name).read_text())
        udf, chunk, overlap = neighbourhood_udf(graph)
        height, width = sheet.lattice.grid.shape
        chunks = -(-width // chunk) * -(-height // chunk)
        with tqdm(total=chunks, desc=f'{sheet.sheet.code} {year}', unit='chunk') as bar:
            maps[sheet.sheet.code, year] = map_lattice(
                udf,
                imagery,
                sheet.lattice.grid,
                year,
                chunk,
                overlap,
                progress=lambda: _advance(bar),
            )
    return maps


def _run_jobs(
    out: Path,
    url: str,
    jobs: Sequence[tuple[MapSheet, int]],
    retries: int,
    poll_seconds: int,
    job_options: dict[str, Any] | None,
) -> dict[tuple[str, int], LocalMap]:
    """One batch job per sheet and year; the downloaded results, read."""
    backend = Backend(url)
    connection = backend.connection
    manager = SheetJobManager(out, retries=retries, poll_sleep=poll_seconds)
    manager.add_backend('backend', connection=connection, parallel_jobs=2)

    def start_job(row: Any, connection: Connection, **_: Any) -> BatchJob:  # noqa: ANN401
        graph = json.loads((out / str(row['graph'])).read_text())
        return connection.create_job(
            graph,
            title=f'torchgeo-bvm map {row["sheet"]} {int(row["year"])}',
            job_options=job_options or None,
        )

    database = out / JOB_DATABASE
    manager.run_jobs(start_job=start_job, job_db=database)
    rows = pd.read_csv(database)
    failed = rows[rows['status'] != 'finished']
    if len(failed):
        listed = ', '.join(
            f'{sheet} {year} ({status}, job {job})'
            for sheet, year, status, job in zip(
                failed['sheet'],
                failed['year'],
                failed['status'],
                failed['id'],
                strict=True,
            )
        )
        raise DownloadError(
            f'{len(failed)} of {len(rows)} map jobs did not finish after '
            f'{retries + 1} attempts: {listed}; their error logs are in '
            f'{out / JOBS_FOLDER}; run the command again to retry them'
        )
    maps: dict[tuple[str, int], LocalMap] = {}
    by_job = {
        (str(sheet), int(year)): str(job)
        for sheet, year, job in zip(
            rows['sheet'], rows['year'], rows['id'], strict=True
        )
    }
    for sheet, year in jobs:
        job_folder = manager.download(connection, by_job[sheet.sheet.code, year])
        maps[sheet.sheet.code, year] = _read_result(job_folder, sheet)
    return maps


def _read_result(folder: Path, sheet: MapSheet) -> LocalMap:
    """A job's GeoTIFF of ``class``, ``confidence`` and ``clear`` on the lattice."""
    tiffs = sorted(folder.glob('*.tif'))
    if len(tiffs) != 1:
        raise DownloadError(
            f'{folder}: expected one GeoTIFF of the map job, found {len(tiffs)}'
        )
    grid = sheet.lattice.grid
    with rasterio.open(tiffs[0]) as src:
        if src.count != len(MAP_BANDS):
            raise DownloadError(
                f'{tiffs[0]}: {src.count} bands, the map graph gives '
                f'{len(MAP_BANDS)} ({", ".join(MAP_BANDS)})'
            )
        theirs = Grid.of_file(src)
        column = (grid.left - theirs.left) / theirs.xres
        row = (theirs.top - grid.top) / theirs.yres
        if theirs.res != grid.res or not (
            float(column).is_integer() and float(row).is_integer()
        ):
            raise DownloadError(
                f"{tiffs[0]}: not on the map's 10 m grid (its origin "
                f'{theirs.left}, {theirs.top}, resolution {theirs.res})'
            )
        window = rasterio.windows.Window(
            int(column), int(row), grid.shape[1], grid.shape[0]
        )
        values = src.read(window=window, boundless=True, fill_value=np.nan).astype(
            np.float32
        )
    return LocalMap(grid, values[0], values[1], values[2])


# -- writing ---------------------------------------------------------------------


def _write_year(
    folder: Path,
    year: int,
    sheets: Sequence[MapSheet],
    maps: dict[tuple[str, int], LocalMap],
    card: ModelCard,
) -> MappedYear:
    """A year's folder of maps, as ``torchgeo predict`` writes it."""
    period, name = period_words([year], None), period_name([year], None)
    codes = tuple(s.sheet.code for s in sheets)
    with ExitStack() as stack:
        staging = start_map_run(folder, MapRun(period, name, codes, ()), stack)
        for sheet in sheets:
            path = staging / f'{sheet.name}.tif'
            _write_sheet(path, sheet, maps[sheet.sheet.code, year], card)
            title = f'Fused map {sheet.sheet.code}, {period}'
            plot_fused_map(path, path.with_suffix('.png'), title)
        mosaic = staging / MOSAIC
        write_mosaic([staging / f'{s.name}.tif' for s in sheets], mosaic)
        plot_fused_map(mosaic, mosaic.with_suffix('.png'), f'Fused map, {period}')
        files = fused_map_files([f'{s.name}.tif' for s in sheets])
        write_manifest(staging, MapRun(period, name, codes, tuple(files)))
        finish_map_run(staging, folder)
    return MappedYear(year, folder, tuple(folder / f for f in files))


def _write_sheet(
    path: Path, sheet: MapSheet, mapped: LocalMap, card: ModelCard
) -> None:
    """A sheet's files from the graph's last step, cut from the lattice."""
    lattice = mapped.grid
    column = round((sheet.grid.left - lattice.left) / lattice.xres)
    row = round((lattice.top - sheet.grid.top) / lattice.yres)
    height, width = sheet.grid.shape
    here = (slice(row, row + height), slice(column, column + width))
    labels = mapped.classes[here]
    top = mapped.confidence[here]
    clear = np.nan_to_num(mapped.clear[here])
    inside = sheet.mask()
    fused = inside & np.isfinite(labels) & np.isfinite(top) & (clear > 0)
    classes = np.full((height, width), IGNORE_INDEX, np.uint8)
    classes[fused] = labels[fused].astype(np.uint8)
    codes = np.rint(top[fused] * CONFIDENCE_SCALE).astype(np.int64)
    if card.confidence_table is not None:
        table = np.asarray(card.confidence_table, np.float64)
        codes = np.rint(table[classes[fused], codes] * CONFIDENCE_SCALE).astype(
            np.int64
        )
    confidence = np.full((height, width), IGNORE_INDEX, np.uint8)
    confidence[fused] = codes.astype(np.uint8)
    counts = np.minimum(clear, MAX_COUNT).astype(np.uint8)
    counts[~inside] = IGNORE_INDEX
    write_fused_sheet(path, sheet.grid, classes, confidence, counts)


def _advance(bar: tqdm[Any]) -> None:
    bar.update(1)
