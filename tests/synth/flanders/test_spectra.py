from pathlib import Path
from typing import Any

from rasterio.transform import from_origin

from tests.synth.flanders.reading import bvm_dataset, date_sample
from torchgeo_bvm.classes import class_by_name
from torchgeo_bvm.crs import UTM31N


def test_seasons_change_arable_land(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    cols, rows = round((xmax - xmin) / 10), round((ymax - ymin) / 10)
    labels = bvm_dataset(out, UTM31N).rasterize(
        from_origin(xmin, ymax, 10, 10), cols, rows
    )

    def ndvi(day: str, name: str) -> float:
        sample = date_sample(out, manifest, day)
        red, nir = sample['image'].numpy()
        use = sample['valid'].numpy() & (labels == class_by_name(name).id)
        return float(((nir - red) / (nir + red))[use].mean())

    assert (
        ndvi('2020-07-27', 'Cultivated land')
        > ndvi('2020-04-18', 'Cultivated land') + 0.15
    )
    # Meadows stay green; in summer they are close to the crops.
    assert ndvi('2020-04-18', 'Grasslands') > 0.5
    assert (
        abs(ndvi('2020-07-27', 'Grasslands') - ndvi('2020-07-27', 'Cultivated land'))
        < 0.2
    )
