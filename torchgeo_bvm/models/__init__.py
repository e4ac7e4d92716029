"""Networks for series of images: the temporal models and their pretrained weights.

* :mod:`~torchgeo_bvm.models.attention`: L-TAE temporal attention with masked
  dates;
* :mod:`~torchgeo_bvm.models.steps`: the call every temporal model takes,
  which steps of a batch hold data, and their days of the year;
* :mod:`~torchgeo_bvm.models.utae`: U-TAE;
* :mod:`~torchgeo_bvm.models.fusion`: early and late fusion U-Nets;
* :mod:`~torchgeo_bvm.models.pixel`: the pixel time-series encoder;
* :mod:`~torchgeo_bvm.models.weights`: TorchGeo's pretrained weights mapped
  onto the imagery's bands by name.

:class:`~torchgeo_bvm.training.temporal.BVMTemporalSegmentation` trains them
by name.
"""

from .attention import TemporalAttention, day_of_year
from .fusion import EarlyFusionUNet, LateFusionUNet
from .pixel import PixelTemporalEncoder
from .steps import SeriesModel, SeriesSteps, on_valid_steps
from .utae import UTAE
from .weights import band_key, load_encoder_weights, resolve_weights

__all__ = [
    'UTAE',
    'EarlyFusionUNet',
    'LateFusionUNet',
    'PixelTemporalEncoder',
    'SeriesModel',
    'SeriesSteps',
    'TemporalAttention',
    'band_key',
    'day_of_year',
    'load_encoder_weights',
    'on_valid_steps',
    'resolve_weights',
]
