"""One task for every way of fusing a series' dates, chosen by name in YAML.

The paper leaves open "the timing and methods of feature fusion in the
contracting path of the network". :class:`BVMTemporalSegmentation` offers the
answers side by side, so they train, calibrate, evaluate and map alike (it is
:class:`~torchgeo_bvm.training.tasks.BVMSemanticSegmentation`, with its
metrics, temperature, confidence table and prediction writer):

============ ==============================================================
``model``    how the dates are fused
============ ==============================================================
``early``    before the first convolution: the dates stacked as channels
             (:class:`~torchgeo_bvm.models.fusion.EarlyFusionUNet`)
``convlstm`` through the network: TorchGeo's ConvLSTM, two layers of
             ``hidden_dim`` channels and 3 x 3 kernels
             (:class:`torchgeo.models.ConvLSTM`)
``utae``     at every level of the encoder, by temporal attention
             (:class:`~torchgeo_bvm.models.utae.UTAE`)
``late``     after the last layer: the dates' logits pooled
             (:class:`~torchgeo_bvm.models.fusion.LateFusionUNet`)
``pixel``    per pixel, without neighbours, by temporal attention
             (:class:`~torchgeo_bvm.models.pixel.PixelTemporalEncoder`)
============ ==============================================================

Batches are series ``(B, T, C, H, W)`` (``time_series: true``, ``series.stack:
time``) with their ``dates`` and ``valid_steps``; every model but the ConvLSTM
leaves out the steps that hold no data (the ConvLSTM takes TorchGeo's
``length`` of a ``'dates'`` series, as its own task does).

**Pretrained encoders.** ``early``, ``utae`` and ``late`` have a
segmentation_models_pytorch encoder (``backbone``) that takes TorchGeo's
weights: a ``WeightsEnum`` member or its name (e.g.
``ResNet18_Weights.SENTINEL2_ALL_MOCO``), or a state-dict file, loaded when
``fit`` starts with the first convolution mapped onto ``bands`` by name
(:func:`~torchgeo_bvm.models.weights.load_encoder_weights`). ImageNet weights
(``weights: true``) are not offered: their three RGB filters say little about
eleven Sentinel-2 bands, and TorchGeo has Sentinel-2 weights.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal, get_args, override

from torch import Tensor, nn
from torchgeo.datasets.utils import Sample
from torchgeo.models import ConvLSTM

from ..datasets.bands import ALL_BANDS
from ..errors import BVMFileError, BVMValueError
from ..models.fusion import EarlyFusionUNet, LateFusionUNet, LatePooling
from ..models.pixel import PixelTemporalEncoder
from ..models.utae import UTAE
from ..models.weights import load_encoder_weights
from .tasks import WEIGHTS_OVERRIDE, BVMSemanticSegmentation

__all__ = ['TEMPORAL_MODELS', 'BVMTemporalSegmentation', 'TemporalModel']

TemporalModel = Literal['early', 'convlstm', 'utae', 'late', 'pixel']
#: The models of :class:`BVMTemporalSegmentation`, by name.
TEMPORAL_MODELS: tuple[TemporalModel, ...] = get_args(TemporalModel)
#: The models whose encoder takes pretrained weights.
PRETRAINED_MODELS = ('early', 'utae', 'late')


class BVMTemporalSegmentation(BVMSemanticSegmentation):
    """Segmentation of series ``(B, T, C, H, W)``, the dates fused as ``model`` says.

    Its training, validation, test and predict steps are those of
    :class:`~torchgeo_bvm.training.tasks.BVMSemanticSegmentation`, with the
    batch's ``dates``, ``valid_steps`` and ``length`` given to :meth:`forward`.

    Args:
        model: ``'early'``, ``'convlstm'``, ``'utae'``, ``'late'`` or
            ``'pixel'`` (see the module docstring).
        backbone: the smp encoder of ``early``, ``utae`` and ``late``.
        weights: initial encoder weights: None, a TorchGeo ``WeightsEnum``
            member or its name, or a state-dict file (``early``, ``utae``,
            ``late`` only); loaded when ``fit`` starts.
        in_channels: bands of one date.
        task: TorchGeo's kind of task; a map holds one class per pixel, so
            ``'multiclass'`` only (an argument because TorchGeo's metrics read
            it from the hyperparameters).
        num_classes: classes.
        num_labels: TorchGeo's label count of a multilabel task; unused.
        steps: the steps of every series (``early`` only: its first
            convolution takes ``steps x in_channels`` channels).
        bands: the names of the bands, in channel order, that pretrained
            weights are mapped onto; the data module checks them against its
            own. None: the 11 Sentinel-2 bands of ``imagery.bands: all`` where
            ``in_channels`` is 11, else required with ``weights``.
        hidden_dim: hidden channels of ``convlstm`` and ``pixel``.
        n_head: attention heads of ``utae`` and ``pixel``.
        d_k: channels of their attention's queries and keys.
        encoder_depth: encoder stages of ``utae``.
        pooling: how ``late`` pools the dates: ``'mean'`` or ``'attention'``.
        labels: class names.
        loss: TorchGeo's loss name (``'ce'``, ``'focal'``, ...).
        class_weights: weights of the classes in the ``'ce'`` loss.
        ignore_index: the label of unlabelled pixels.
        lr: learning rate.
        patience: epochs without improvement before the learning rate drops.
        freeze_backbone: do not train the encoder.
        calibrated: predict calibrated probabilities.

    Raises:
        BVMValueError: for an unknown model, weights for a model without an
            encoder that takes them, or bands that do not fit ``in_channels``.
    """

    def __init__(
        self,
        model: TemporalModel = 'utae',
        backbone: str = 'resnet18',
        weights: str | bool | None = None,
        in_channels: int = 11,
        task: Literal['multiclass'] = 'multiclass',
        num_classes: int = 14,
        num_labels: int | None = None,
        steps: int = 12,
        bands: Sequence[str] | None = None,
        hidden_dim: int = 64,
        n_head: int = 8,
        d_k: int = 4,
        encoder_depth: int = 4,
        pooling: LatePooling = 'mean',
        labels: list[str] | None = None,
        loss: Literal['ce', 'jaccard', 'focal', 'dice'] = 'ce',
        class_weights: Sequence[float] | None = None,
        ignore_index: int | None = None,
        lr: float = 1e-3,
        patience: int = 10,
        freeze_backbone: bool = False,
        calibrated: bool = True,
    ) -> None:
        if model not in TEMPORAL_MODELS:
            raise BVMValueError(
                f'unknown temporal model {model!r}: expected one of '
                f'{", ".join(TEMPORAL_MODELS)}'
            )
        if weights is True or (weights and model not in PRETRAINED_MODELS):
            raise BVMValueError(_no_weights(model, weights))
        names = _band_names(bands, in_channels, weights)
        super().__init__(
            model=model,
            backbone=backbone,
            weights=weights,
            in_channels=in_channels,
            task=task,
            num_classes=num_classes,
            num_labels=num_labels,
            labels=labels,
            loss=loss,
            class_weights=class_weights,
            ignore_index=ignore_index,
            lr=lr,
            patience=patience,
            freeze_backbone=freeze_backbone,
            calibrated=calibrated,
        )
        self.bands = names
        self._series: tuple[Tensor | None, Tensor | None, Tensor | None] | None = None

    def configure_models(self) -> None:
        """Build the network with random weights; remember the initial ones."""
        self.initial_weights = self.weights
        self.model = self._network()
        if self.hparams['freeze_backbone'] and hasattr(self.model, 'encoder'):
            for parameter in self.model.encoder.parameters():
                parameter.requires_grad = False

    def _network(self) -> nn.Module:
        hparams = self.hparams
        channels, classes = hparams['in_channels'], hparams['num_classes']
        match hparams['model']:
            case 'early':
                return EarlyFusionUNet(
                    channels, classes, hparams['steps'], hparams['backbone']
                )
            case 'convlstm':
                return ConvLSTM(
                    input_dim=channels,
                    hidden_dim=hparams['hidden_dim'],
                    num_layers=2,
                    num_classes=classes,
                )
            case 'utae':
                return UTAE(
                    channels,
                    classes,
                    hparams['backbone'],
                    hparams['encoder_depth'],
                    hparams['n_head'],
                    hparams['d_k'],
                )
            case 'late':
                return LateFusionUNet(
                    channels, classes, hparams['backbone'], hparams['pooling']
                )
            case _:
                return PixelTemporalEncoder(
                    channels,
                    classes,
                    hparams['hidden_dim'],
                    hparams['n_head'],
                    hparams['d_k'],
                )

    def load_initial_weights(self) -> None:
        """Load the initial ``weights`` into the encoder (nothing if there are none).

        Raises:
            BVMFileError: if the weights cannot be read (not downloaded and
                no network, an unreadable file).
            BVMValueError: if they do not fit the encoder or the bands.
        """
        weights = self.initial_weights
        if not weights:
            return
        steps = self.hparams['steps'] if self.hparams['model'] == 'early' else 1
        try:
            load_encoder_weights(self.model.encoder, weights, self.bands, steps)
        except OSError as error:
            reason = ' '.join(str(error).split()) or type(error).__name__
            raise BVMFileError(
                f'the initial weights {weights!r} could not be loaded ({reason}); '
                f'to train from random weights instead, add {WEIGHTS_OVERRIDE}'
            ) from None
        self.initial_weights_loaded = True

    def forward(
        self,
        x: Tensor,
        dates: Tensor | None = None,
        valid: Tensor | None = None,
    ) -> Tensor:
        """Class logits of a series.

        Inside a training, validation, test or predict step the batch's
        ``dates``, ``valid_steps`` and ``length`` are used when not given.

        Args:
            x: ``[B, T, C, H, W]`` images.
            dates: ``[B, T]`` days since 1970-01-01.
            valid: ``[B, T]`` bool, True where a step holds data.

        Returns:
            ``[B, num_classes, H, W]`` logits.
        """
        length = None
        if self._series is not None:
            dates = self._series[0] if dates is None else dates
            valid = self._series[1] if valid is None else valid
            length = self._series[2]
        if isinstance(self.model, ConvLSTM):
            logits: Tensor = self.model(x, lengths=length)
            return logits
        fused: Tensor = self.model(x, dates, valid)
        return fused

    @contextmanager
    def _steps_of(self, batch: Sample) -> Iterator[None]:
        """The batch's step information, for :meth:`forward` during a step."""
        self._series = (
            batch.get('dates'),
            batch.get('valid_steps'),
            batch.get('length'),
        )
        try:
            yield
        finally:
            self._series = None

    @override
    def training_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        with self._steps_of(batch):
            loss: Tensor = super().training_step(batch, batch_idx, dataloader_idx)
        return loss

    @override
    def validation_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        with self._steps_of(batch):
            super().validation_step(batch, batch_idx, dataloader_idx)

    @override
    def test_step(self, batch: Sample, batch_idx: int, dataloader_idx: int = 0) -> None:
        with self._steps_of(batch):
            super().test_step(batch, batch_idx, dataloader_idx)

    @override
    def predict_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, Tensor | None]:
        with self._steps_of(batch):
            return super().predict_step(batch, batch_idx, dataloader_idx)


def _band_names(
    bands: Sequence[str] | None, in_channels: int, weights: object
) -> tuple[str, ...]:
    """The bands pretrained weights are mapped onto."""
    if bands is None:
        if in_channels == len(ALL_BANDS) or not weights:
            return ALL_BANDS[:in_channels]
        raise BVMValueError(
            f'weights {weights!r} are mapped onto the bands by name: set bands to '
            f'the {in_channels} imagery bands in channel order'
        )
    if len(bands) != in_channels:
        raise BVMValueError(
            f'bands names {len(bands)} bands and in_channels is {in_channels}: '
            'give one name per input channel'
        )
    return tuple(bands)


def _no_weights(model: str, weights: object) -> str:
    if weights is True:
        return (
            f'weights: true (ImageNet) is not offered for the temporal model '
            f'{model!r}: give a TorchGeo Sentinel-2 weights name such as '
            "'ResNet18_Weights.SENTINEL2_ALL_MOCO', or null"
        )
    return (
        f'the temporal model {model!r} has no encoder that takes pretrained '
        f'weights (only {", ".join(PRETRAINED_MODELS)} do): set weights: null'
    )
