"""Lightning callbacks for evaluation outputs.

:class:`ConfusionMatrixWriter` saves the test confusion matrix of TorchGeo's
:class:`~torchgeo.tasks.SemanticSegmentation` task as CSV and PNG. The task itself
logs overall accuracy and per-class IoU, precision, recall and F1; the matrix shows
which classes are confused with which, the first thing to look at with classes as
imbalanced as the BVM's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from numpy.typing import NDArray
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from .classes import CLASS_NAMES, IGNORE_INDEX
from .fileio import atomic_path
from .plot import save_figure

__all__ = ['ConfusionMatrixWriter', 'plot_confusion_matrix']


class ConfusionMatrixWriter(Callback):
    """Save the test confusion matrix as ``confusion_matrix.csv`` and ``.png``.

    The model's outputs are captured with a forward hook during ``test_step``, so
    nothing is computed twice. Pixels labelled ``ignore_index`` are not counted.
    Rows are true classes, columns predicted classes, values pixel counts.

    Args:
        dirpath: output folder (default: the trainer's log folder, else its
            ``default_root_dir``).
        labels: class names (default: the 14 BVM classes).
        ignore_index: label value that is not counted.
    """

    def __init__(
        self,
        dirpath: str | Path | None = None,
        labels: Sequence[str] = CLASS_NAMES,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        self.dirpath = None if dirpath is None else Path(dirpath)
        self.labels = list(labels)
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(len(self.labels), len(self.labels), dtype=torch.int64)
        self._outputs: Tensor | None = None
        self._hook: RemovableHandle | None = None

    def _capture(
        self, module: torch.nn.Module, args: tuple[object, ...], output: Tensor
    ) -> None:
        self._outputs = output.detach()

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Reset the matrix and start capturing the model's outputs.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        self.matrix.zero_()
        self._hook = pl_module.register_forward_hook(self._capture)

    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: object,
        batch: dict[str, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Add one batch to the matrix.

        Args:
            trainer: the trainer.
            pl_module: the task.
            outputs: what ``test_step`` returned (unused).
            batch: the batch, with its ``mask``.
            batch_idx: the batch index.
            dataloader_idx: the dataloader index.
        """
        if self._outputs is None:
            return
        predicted = self._outputs.argmax(dim=1).flatten().cpu()
        target = batch['mask'].flatten().cpu()
        self._outputs = None
        self.matrix += confusion_counts(
            predicted, target, len(self.labels), self.ignore_index
        )

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Stop capturing and write the matrix (on the global rank 0 only).

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        matrix = cast(Tensor, pl_module.all_gather(self.matrix.to(pl_module.device)))
        if matrix.dim() == 3:
            matrix = matrix.sum(dim=0)
        if not trainer.is_global_zero:
            return
        self.matrix = matrix.cpu()
        directory = self.dirpath or Path(trainer.log_dir or trainer.default_root_dir)
        self.write(directory)

    def frame(self) -> pd.DataFrame:
        """The matrix as a frame with class names.

        Returns:
            Rows ``true``, columns ``predicted``.
        """
        return pd.DataFrame(
            self.matrix.numpy(),
            index=pd.Index(self.labels, name='true'),
            columns=pd.Index(self.labels, name='predicted'),
        )

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``confusion_matrix.csv`` and ``confusion_matrix.png`` atomically.

        Args:
            directory: the output folder.

        Returns:
            The CSV and PNG paths.
        """
        directory = Path(directory)
        csv, png = (
            directory / 'confusion_matrix.csv',
            directory / 'confusion_matrix.png',
        )
        with atomic_path(csv) as temporary:
            self.frame().to_csv(temporary)
        plot_confusion_matrix(self.matrix.numpy(), self.labels, png)
        return csv, png


def confusion_counts(
    predicted: Tensor, target: Tensor, num_classes: int, ignore_index: int
) -> Tensor:
    """Count (true, predicted) pairs, leaving out ``ignore_index`` targets.

    Args:
        predicted: predicted class ids.
        target: true class ids, ``ignore_index`` where unlabelled.
        num_classes: number of classes.
        ignore_index: label value that is not counted.

    Returns:
        A ``[num_classes, num_classes]`` int64 matrix, rows = true classes.
    """
    keep = target != ignore_index
    keys = target[keep].long() * num_classes + predicted[keep].long()
    counts = torch.bincount(keys, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def plot_confusion_matrix(
    matrix: NDArray[np.integer], labels: Sequence[str], path: str | Path
) -> None:
    """Draw a confusion matrix normalised by row (recall) with counts.

    Args:
        matrix: counts, rows = true classes.
        labels: class names.
        path: the PNG to write.
    """
    import matplotlib.pyplot as plt

    counts = np.asarray(matrix, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = 4 + 0.45 * len(labels)
    figure, axes = plt.subplots(figsize=(size + 2, size), layout='constrained')
    image = axes.imshow(shares, cmap='Blues', vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha='right', fontsize=7)
    axes.set_yticks(range(len(labels)), labels, fontsize=7)
    axes.set_xlabel('predicted')
    axes.set_ylabel('true')
    for (row, column), share in np.ndenumerate(shares):
        if counts[row, column] > 0:
            colour = 'white' if share > 0.5 else 'black'
            axes.text(
                column,
                row,
                f'{share:.2f}',
                ha='center',
                va='center',
                fontsize=5,
                color=colour,
            )
    overall = np.trace(counts) / max(counts.sum(), 1)
    axes.set_title(
        f'Test confusion matrix (row-normalised), overall accuracy {overall:.3f}'
    )
    figure.colorbar(image, ax=axes, label='share of the true class')
    save_figure(figure, path, dpi=150)
