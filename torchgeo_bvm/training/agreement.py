"""Whether a model and the data module agree on what a batch holds.

A checkpoint holds the model, not the data settings, so a configuration that
reads other bands, another number of months or single dates instead of a
series would otherwise reach the model and fail deep inside it ("not enough
values to unpack", "expected input to have 11 channels"), or worse, run on the
wrong bands. :class:`InputLayout` describes the batches of
:class:`~torchgeo_bvm.training.datamodule.BVMDataModule`; the data module
stores it in every checkpoint (its ``state_dict``), compares it with the one
of the checkpoint it resumes from or evaluates (:meth:`InputLayout.check_saved`),
and compares it with the model when a stage starts
(:meth:`InputLayout.check_model`): one line naming both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightning.pytorch import LightningModule
from torchgeo.tasks import SpatioTemporalSegmentation

from ..classes import NUM_CLASSES
from ..datasets.radar import ALL_BANDS as RADAR_BANDS
from ..errors import BVMValueError
from .temporal import BVMTemporalSegmentation

__all__ = ['InputLayout']


@dataclass(frozen=True)
class InputLayout:
    """What a batch holds, as a model sees it.

    Args:
        bands: the bands, in channel order.
        temporal: None for single dates, else the series layout (``'monthly'``
            or ``'dates'``).
        steps: the steps of a series (1 for single dates).
        months: the requested months (None: every month).
        stack: how a series is batched: ``'time'`` ``(B, T, C, H, W)`` or
            ``'channels'`` ``(B, T * C, H, W)`` (None for single dates).
    """

    bands: tuple[str, ...]
    temporal: str | None = None
    steps: int = 1
    months: tuple[int, ...] | None = None
    stack: str | None = None

    @property
    def channels(self) -> int:
        """The channels of a batch: ``C``, or ``T * C`` stacked as channels."""
        return len(self.bands) * (self.steps if self.stack == 'channels' else 1)

    @property
    def time_dimension(self) -> bool:
        """Whether batches are ``(B, T, C, H, W)``."""
        return self.stack == 'time'

    def words(self) -> str:
        """The layout in words, e.g. ``'single dates of the bands B02, B03, B04'``.

        Returns:
            The words.
        """
        bands = ', '.join(self.bands)
        if self.temporal is None:
            return f'single dates of the bands {bands}'
        if self.temporal == 'monthly':
            months = _span(self.months or tuple(range(1, 13)))
            steps = f'{self.steps} months ({months})'
        else:
            steps = f'{self.steps} dates'
        how = 'in time' if self.stack == 'time' else 'as channels'
        return f'series of {steps} of the bands {bands}, stacked {how}'

    def state(self) -> dict[str, Any]:
        """The layout as a checkpoint keeps it (plain values).

        Returns:
            The state.
        """
        return {
            'bands': list(self.bands),
            'temporal': self.temporal,
            'steps': self.steps,
            'months': None if self.months is None else list(self.months),
            'stack': self.stack,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> InputLayout:
        """The layout a checkpoint kept.

        Args:
            state: what :meth:`state` gave.

        Returns:
            The layout.
        """
        months = state.get('months')
        return cls(
            tuple(state['bands']),
            state.get('temporal'),
            int(state.get('steps', 1)),
            None if months is None else tuple(months),
            state.get('stack'),
        )

    def check_saved(self, saved: InputLayout) -> None:
        """Check that the data are those the checkpoint's model was trained on.

        Args:
            saved: the layout stored in the checkpoint.

        Raises:
            BVMValueError: naming what differs, the checkpoint's and the data
                module's side, and the option to set.
        """
        options = []
        if saved.bands != self.bands:
            options.append(_bands_option(saved.bands, self.bands))
        if saved.temporal != self.temporal:
            options.append('time_series and series.temporal')
        elif self.temporal is not None:
            if saved.steps != self.steps and self.temporal == 'dates':
                options.append('series.max_dates')
            if saved.months != self.months:
                options.append('imagery.months')
            if saved.stack != self.stack:
                options.append('series.stack')
        if options:
            raise BVMValueError(
                f'the checkpoint was trained on {saved.words()}, and the data '
                f'module reads {self.words()}: set {" and ".join(options)} as in '
                'training'
            )

    def check_model(self, model: LightningModule, classes: bool) -> None:
        """Check that a model takes these batches.

        Args:
            model: the task (its ``hparams``: ``in_channels``, ``num_classes``;
                a :class:`~torchgeo.tasks.SpatioTemporalSegmentation` or
                :class:`~torchgeo_bvm.training.temporal.BVMTemporalSegmentation`
                takes ``(B, T, C, H, W)``; the latter's ``bands`` and, for early
                fusion, ``steps`` must be the data module's).
            classes: also check that the model predicts no class the package
                does not know (a map or an evaluation of its classes follows).

        Raises:
            BVMValueError: naming the model's and the data module's side.
        """
        name = type(model).__name__
        temporal_model = isinstance(
            model, SpatioTemporalSegmentation | BVMTemporalSegmentation
        )
        if temporal_model and not self.time_dimension:
            raise BVMValueError(
                f'the model ({name}) reads series (B, T, C, H, W), and the data '
                f'module gives {self.words()}: set time_series: true and '
                'series.stack: time as in training'
            )
        if not temporal_model and self.time_dimension:
            raise BVMValueError(
                f'the model ({name}) reads (B, C, H, W), and the data module gives '
                f'{self.words()}: set series.stack: channels (in_channels = T x C) '
                'or use a temporal model'
            )
        hparams = getattr(model, 'hparams', {})
        if isinstance(model, BVMTemporalSegmentation):
            self._check_temporal_model(model)
        wanted = hparams.get('in_channels')
        given = len(self.bands) if temporal_model else self.channels
        if isinstance(wanted, int) and wanted != given:
            raise BVMValueError(
                f'the model ({name}) takes {wanted} input channels (in_channels), '
                f'and the data module gives {given}: {self.words()}; set '
                f'{_bands_option(self.bands)}, time_series and series as in training'
            )
        count = hparams.get('num_classes')
        if classes and isinstance(count, int) and count > NUM_CLASSES:
            raise BVMValueError(
                f'the model ({name}) predicts {count} classes (num_classes), and '
                f'the BVM has {NUM_CLASSES}: class ids {NUM_CLASSES}..{count - 1} '
                'have no name or colour in maps and tables; train with '
                f'num_classes: {NUM_CLASSES}'
            )

    def _check_temporal_model(self, model: BVMTemporalSegmentation) -> None:
        steps = model.hparams['steps']
        if model.hparams['model'] == 'early' and steps != self.steps:
            raise BVMValueError(
                f'the early-fusion model takes {steps} steps (steps), and the data '
                f'module gives {self.words()}: set steps: {self.steps} or the '
                'series as in training'
            )
        named = model.hparams['bands']
        if named is not None and tuple(named) != self.bands:
            raise BVMValueError(
                f'the model ({type(model).__name__}) names the bands '
                f'{", ".join(named)} (bands), and the data module gives '
                f"{', '.join(self.bands)}: set the model's bands to "
                f'{_bands_option(self.bands)} in channel order'
            )


def _span(months: tuple[int, ...]) -> str:
    """Months in words: ``'1-12'``, ``'4-9'`` or ``'4, 7'``."""
    ordered = sorted(months)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f'{ordered[0]}-{ordered[-1]}'
    return ', '.join(map(str, ordered))


def _bands_option(*layouts: tuple[str, ...]) -> str:
    """The option that sets these bands: the radar's too if any is a radar band."""
    if any(band in RADAR_BANDS for bands in layouts for band in bands):
        return 'imagery.bands and radar.bands'
    return 'imagery.bands'
