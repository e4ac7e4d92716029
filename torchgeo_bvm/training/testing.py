"""What ``torchgeo test`` measures beyond one confusion matrix: sheets and calibration.

:class:`SheetEvaluation` takes each test batch's logits, labels and tile
transforms and keeps

* a confusion matrix per evaluation unit (each pixel's test sheet, or block
  of it: :class:`~torchgeo_bvm.evaluation.units.EvaluationUnits`), from which
  :class:`~torchgeo_bvm.evaluation.accuracy.AccuracyReport` gives every
  accuracy per sheet with a 95 % interval from a bootstrap over whole sheets;
* the reliability of the model's confidence (its highest class probability)
  before and after the task's temperature
  (:class:`~torchgeo_bvm.evaluation.calibration.Reliability`, 15 bins).

:class:`~torchgeo_bvm.training.callbacks.ConfusionMatrixWriter` feeds it and
writes what it holds beside the confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from pyproj import CRS
from torch import Tensor

from ..evaluation.accuracy import AccuracyReport
from ..evaluation.calibration import Reliability, plot_reliability
from ..evaluation.units import NO_UNIT, EvaluationUnits
from ..fileio import atomic_path

__all__ = ['CALIBRATION_NAMES', 'SheetEvaluation']

#: The calibration files written into the evaluation folder.
CALIBRATION_NAMES = {'table': 'calibration.csv', 'diagram': 'reliability.png'}


class SheetEvaluation:
    """Confusion matrices per test sheet and the reliability of the confidence.

    Args:
        classes: the class names.
        units: which unit each pixel counts for.
        ignore_index: the label of pixels that are not counted.
    """

    def __init__(
        self, classes: Sequence[str], units: EvaluationUnits, ignore_index: int
    ) -> None:
        self.classes = list(classes)
        self.units = units
        self.ignore_index = ignore_index
        self.matrices: dict[int, NDArray[np.int64]] = {}
        self.before = Reliability()
        self.after = Reliability()
        self.temperature = 1.0

    def reset(self) -> None:
        """Forget every pixel."""
        self.matrices = {}
        self.before, self.after = Reliability(), Reliability()

    def add(
        self,
        logits: Tensor,
        mask: Tensor,
        transforms: Tensor | None,
        crs: CRS | None,
        temperature: float = 1.0,
    ) -> None:
        """Add a batch.

        Args:
            logits: ``[B, C, H, W]`` the model's logits.
            mask: ``[B, H, W]`` the labels.
            transforms: ``[B, 9]`` (or 6) each tile's affine transform, north
                up (None: no sheets, the calibration only).
            crs: the tiles' CRS (None: no sheets, the calibration only).
            temperature: the task's temperature.
        """
        self.temperature = float(temperature)
        classes = logits.shape[1]
        labels = mask.detach().cpu().numpy().astype(np.int64)
        valid = labels != self.ignore_index
        scores = logits.detach().float()
        for bins, t in ((self.before, 1.0), (self.after, self.temperature)):
            probabilities = torch.softmax(scores / t, dim=1)
            confidence, predicted = probabilities.max(dim=1)
            right = predicted.cpu().numpy() == labels
            bins.add(confidence.cpu().numpy()[valid], right[valid])
        if crs is None or transforms is None:
            return
        predicted_class = scores.argmax(dim=1).cpu().numpy().astype(np.int64)
        height, width = labels.shape[1:]
        rows, cols = np.mgrid[0:height, 0:width] + 0.5
        for tile, transform in enumerate(transforms.detach().cpu().double().numpy()):
            a, _, c, _, e, f = transform[:6]
            units = self.units.of_points(c + cols * a, f + rows * e, crs)
            keep = valid[tile] & (units != NO_UNIT)
            if not keep.any():
                continue
            unit = units[keep]
            pair = labels[tile][keep] * classes + predicted_class[tile][keep]
            for index in np.unique(unit):
                counts = np.bincount(
                    pair[unit == index], minlength=classes * classes
                ).reshape(classes, classes)
                if index in self.matrices:
                    self.matrices[int(index)] += counts
                else:
                    self.matrices[int(index)] = counts.astype(np.int64)

    def merge(self, others: Sequence[SheetEvaluation]) -> None:
        """Add other processes' pixels to these.

        Args:
            others: the other processes' evaluations.
        """
        for other in others:
            for unit, matrix in other.matrices.items():
                if unit in self.matrices:
                    self.matrices[unit] = self.matrices[unit] + matrix
                else:
                    self.matrices[unit] = matrix.copy()
            self.before += other.before
            self.after += other.after

    def report(self) -> AccuracyReport:
        """Accuracy per unit with bootstrap intervals.

        Returns:
            The report, units by name.
        """
        keys = sorted(self.matrices, key=self.units.name)
        size = len(self.classes)
        confusions = (
            np.stack([self.matrices[k] for k in keys])
            if keys
            else np.zeros((0, size, size), dtype=np.int64)
        )
        return AccuracyReport(
            self.classes,
            [self.units.name(k) for k in keys],
            confusions,
            unit_kind=self.units.describe(),
        )

    def calibration(self) -> pd.DataFrame:
        """The reliability bins before and after the temperature.

        Returns:
            One row per bin and state (``before``, ``after``): the bins'
            columns (:meth:`~torchgeo_bvm.evaluation.calibration.Reliability.frame`),
            ``state``, ``temperature`` and ``ece`` (of the state).
        """
        parts = []
        for state, bins, t in (
            ('before', self.before, 1.0),
            ('after', self.after, self.temperature),
        ):
            table = bins.frame()
            table.insert(0, 'state', state)
            table['temperature'] = t
            table['ece'] = bins.ece()
            parts.append(table)
        return pd.concat(parts, ignore_index=True)

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write the accuracy per sheet and the calibration into a folder.

        Args:
            directory: the evaluation folder.

        Returns:
            The files by kind: ``summary``, ``by_sheet``, ``markdown``
            (``accuracy.csv``, ``accuracy_by_sheet.csv``, ``accuracy.md``),
            ``table`` (``calibration.csv``) and ``diagram``
            (``reliability.png``).
        """
        directory = Path(directory)
        paths: dict[str, Path] = {}
        if self.matrices:
            paths.update(self.report().write(directory))
        table = directory / CALIBRATION_NAMES['table']
        with atomic_path(table) as temporary:
            self.calibration().to_csv(temporary, index=False, float_format='%.6g')
        paths['table'] = table
        paths['diagram'] = plot_reliability(
            {
                'network softmax': self.before,
                f'calibrated (T = {self.temperature:.2f})': self.after,
            },
            directory / CALIBRATION_NAMES['diagram'],
            'Reliability of the test pixels (labels: the BVM)',
        )
        return paths
