"""The temperature of the task's softmax, fitted on the validation sheets.

A network trained with cross-entropy is usually over-confident: its softmax
says 0.95 where it is right 80 % of the time. Temperature scaling
(:func:`~torchgeo_bvm.evaluation.calibration.fit_temperature`) divides the
logits by one number ``T`` chosen on held-out pixels, which keeps every
class and makes the probabilities mean what they say.
:class:`~torchgeo_bvm.training.tasks.BVMSemanticSegmentation` gathers a
:class:`ValidationLogits` sample during each validation (the tiles of the
validation sheets, never the training crops) and fits ``T`` at its end, so
every checkpoint carries the temperature of its own weights; prediction
divides by it.

A fused map averages several dates and is less sure than it is right, which no
temperature fixes: :func:`calibrate_checkpoint` stores in a copy of a
checkpoint the table of calibrated probabilities of the map's confidence
codes (:func:`~torchgeo_bvm.evaluation.calibration.confidence_table`, fitted
on the fused map of the validation sheets by ``torchgeo-bvm calibrate``),
which the prediction writer applies.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningModule
from numpy.typing import NDArray
from torch import Tensor

from ..classes import IGNORE_INDEX
from ..errors import BVMValueError
from ..evaluation.calibration import CODES, fit_temperature
from ..fileio import atomic_path, check_output

__all__ = [
    'CALIBRATION_PIXELS',
    'ValidationLogits',
    'calibrate_checkpoint',
    'identity_table',
]

#: The most validation pixels a temperature is fitted on (spread over batches).
CALIBRATION_PIXELS = 400_000


class ValidationLogits:
    """A sample of validation pixels' logits and labels.

    Each batch gives at most its share of :data:`CALIBRATION_PIXELS` labelled pixels,
    drawn with a generator seeded by the batch's index, so the sample, and the
    temperature, are the same in every run.

    Args:
        ignore_index: the label of pixels that are not counted.
        limit: the most pixels kept.
    """

    def __init__(
        self, ignore_index: int = IGNORE_INDEX, limit: int = CALIBRATION_PIXELS
    ) -> None:
        self.ignore_index = ignore_index
        self.limit = limit
        self.logits: list[Tensor] = []
        self.labels: list[Tensor] = []

    def reset(self) -> None:
        """Forget every pixel."""
        self.logits, self.labels = [], []

    def add(self, logits: Tensor, mask: Tensor, batch_idx: int, batches: int) -> None:
        """Add a batch's labelled pixels, or a sample of them.

        Args:
            logits: ``[B, C, H, W]``.
            mask: ``[B, H, W]`` labels, ``ignore_index`` where unlabelled.
            batch_idx: the batch's index in the validation.
            batches: the validation's batches (each keeps ``limit / batches``).
        """
        classes = logits.shape[1]
        flat = logits.detach().permute(0, 2, 3, 1).reshape(-1, classes)
        labels = mask.detach().reshape(-1)
        keep = torch.nonzero(labels != self.ignore_index).squeeze(1)
        share = math.ceil(self.limit / max(batches, 1))
        if len(keep) > share:
            generator = torch.Generator().manual_seed(batch_idx)
            chosen = torch.randperm(len(keep), generator=generator)[:share]
            keep = keep[chosen.to(keep.device)]
        self.logits.append(flat[keep].float().cpu())
        self.labels.append(labels[keep].long().cpu())

    def fit(self, module: LightningModule) -> float | None:
        """The temperature of the pixels of every process.

        Args:
            module: the task (its ``all_gather`` joins the processes' pixels).

        Returns:
            ``T``, or None without pixels.
        """
        if not self.logits:
            return None
        logits = torch.cat(self.logits)
        labels = torch.cat(self.labels)
        if module.trainer.world_size > 1:
            logits, labels = _gathered(module, logits, labels, self.limit)
        if not len(labels):
            return None
        return fit_temperature(logits.numpy(), labels.numpy())


def _gathered(
    module: LightningModule, logits: Tensor, labels: Tensor, limit: int
) -> tuple[Tensor, Tensor]:
    """Every process's pixels (padded to one size to be gathered, then unpadded)."""
    count = len(labels)
    size = min(limit, count)
    padded_logits = torch.zeros(limit, logits.shape[1])
    padded_labels = torch.full((limit,), -1, dtype=torch.long)
    padded_logits[:size] = logits[:size]
    padded_labels[:size] = labels[:size]
    every_logits = module.all_gather(padded_logits.to(module.device))
    every_labels = module.all_gather(padded_labels.to(module.device))
    assert isinstance(every_logits, Tensor)
    assert isinstance(every_labels, Tensor)
    every_logits = every_logits.reshape(-1, logits.shape[1]).cpu()
    every_labels = every_labels.reshape(-1).cpu()
    real = every_labels >= 0
    return every_logits[real], every_labels[real]


def identity_table(num_classes: int) -> Tensor:
    """The confidence table that changes nothing: code / 250 for every class.

    Args:
        num_classes: the classes.

    Returns:
        ``[num_classes, 251]`` float32.
    """
    codes = torch.arange(CODES, dtype=torch.float32) / (CODES - 1)
    return codes.repeat(num_classes, 1)


def calibrate_checkpoint(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    table: NDArray[np.floating],
    overwrite: bool = False,
) -> Path:
    """Write a copy of a checkpoint that carries a fused map's confidence table.

    Args:
        checkpoint: the task's checkpoint.
        out: the calibrated copy to write (never ``checkpoint`` itself).
        table: ``[classes, 251]`` the calibrated probability of each
            confidence code per predicted class
            (:func:`~torchgeo_bvm.evaluation.calibration.confidence_table`).
        overwrite: replace ``out`` if it exists.

    Returns:
        ``out``.

    Raises:
        BVMValueError: if the table is not 251 probabilities per class of the
            checkpoint's task, or the file is not a checkpoint.
        BVMExistsError: if ``out`` is ``checkpoint`` or exists without
            ``overwrite``.
    """
    values = np.asarray(table, dtype=np.float32)
    if values.ndim != 2 or values.shape[1] != CODES:
        raise BVMValueError(
            f'a confidence table holds {CODES} probabilities per class, got shape '
            f'{values.shape}'
        )
    if not ((values >= 0) & (values <= 1)).all():
        raise BVMValueError('a confidence table holds probabilities, 0 to 1')
    check_output(out, [checkpoint], overwrite, option='--out')
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    weights = state.get('state_dict') if isinstance(state, dict) else None
    if not isinstance(weights, dict):
        raise BVMValueError(f'{checkpoint}: not a Lightning checkpoint (no state_dict)')
    classes = (state.get('hyper_parameters') or {}).get('num_classes')
    if classes is not None and classes != len(values):
        raise BVMValueError(
            f'{checkpoint}: the model has {classes} classes, the confidence table '
            f'{len(values)}'
        )
    weights['confidence_table'] = torch.from_numpy(values)
    weights.setdefault('temperature', torch.ones(()))
    target = Path(out)
    with atomic_path(target) as temporary:
        torch.save(state, temporary)
    return target
