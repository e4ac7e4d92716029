"""Lightning callbacks for evaluation outputs.

:class:`ConfusionMatrixWriter` saves the test confusion matrix of TorchGeo's
:class:`~torchgeo.tasks.SemanticSegmentation` task as CSV and PNG. The task itself
logs overall accuracy and per-class IoU, precision, recall and F1; the matrix shows
which classes are confused with which, the first thing to look at with classes as
imbalanced as the BVM's. Beside it go every accuracy per test sheet with its
95 % interval from a bootstrap over whole sheets, and the reliability of the
model's confidence before and after its temperature
(:mod:`~torchgeo_bvm.training.testing`).

:class:`MetricTable` prints those metrics of ``torchgeo test`` and ``torchgeo
validate`` as one table with a row per class, instead of Lightning's table of
one row per metric (about 80 rows for 14 classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from numpy.typing import NDArray
from pyproj import CRS
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from ..classes import CLASS_NAMES, IGNORE_INDEX
from ..evaluation.units import EvaluationUnits
from ..fileio import atomic_path
from ..plot import save_figure
from .testing import SheetEvaluation

__all__ = [
    'ConfusionMatrixWriter',
    'MetricTable',
    'format_metric_table',
    'plot_confusion_matrix',
]


class ConfusionMatrixWriter(Callback):
    """Save the test confusion matrix as ``confusion_matrix.csv`` and ``.png``.

    The model's outputs are captured with a forward hook during ``test_step``, so
    nothing is computed twice. Pixels labelled ``ignore_index`` are not counted.
    Rows are true classes, columns predicted classes, values pixel counts.

    Into the same folder go, from the same pixels
    (:class:`~torchgeo_bvm.training.testing.SheetEvaluation`):
    ``accuracy.csv`` (overall accuracy and per-class IoU, F1, user's and
    producer's accuracy, each with a 95 % interval from a bootstrap over whole
    test sheets), ``accuracy_by_sheet.csv`` (every metric of every sheet),
    ``accuracy.md`` (both as tables), ``calibration.csv`` (the reliability
    bins and expected calibration error of the confidence before and after the
    task's temperature) and ``reliability.png`` (its diagram).

    Args:
        dirpath: output folder (default: the trainer's log folder, else its
            ``default_root_dir``).
        labels: class names (default: the 14 BVM classes).
        ignore_index: label value that is not counted.
        units: the sheet level whose sheets the accuracy is resampled over
            (``'kbl16'``, the finest official sheets, by default).
        block: cut those sheets into square blocks of this side in metres
            (for a region of one or two test sheets; blocks are closer than
            sheets, so their interval is narrower).
    """

    def __init__(
        self,
        dirpath: str | Path | None = None,
        labels: Sequence[str] = CLASS_NAMES,
        ignore_index: int = IGNORE_INDEX,
        units: str = 'kbl16',
        block: float | None = None,
    ) -> None:
        self.dirpath = None if dirpath is None else Path(dirpath)
        self.labels = list(labels)
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(len(self.labels), len(self.labels), dtype=torch.int64)
        self._outputs: Tensor | None = None
        self._hook: RemovableHandle | None = None
        self.sheets = SheetEvaluation(
            self.labels, EvaluationUnits(units, block), ignore_index
        )

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
        self.sheets.reset()
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
        temperature = getattr(pl_module, 'temperature', None)
        self.sheets.add(
            self._outputs,
            batch['mask'],
            batch.get('transform'),
            _test_crs(trainer),
            1.0 if temperature is None else float(temperature),
        )
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
        others = _other_ranks(trainer, self.sheets)
        if not trainer.is_global_zero:
            return
        self.matrix = matrix.cpu()
        self.sheets.merge(others)
        directory = self.dirpath or Path(trainer.log_dir or trainer.default_root_dir)
        self.write(directory)
        self.sheets.write(directory)

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


def _test_crs(trainer: Trainer) -> CRS | None:
    """The CRS of the test tiles: the data module's test dataset's, if any."""
    dataset = getattr(getattr(trainer, 'datamodule', None), 'test_dataset', None)
    crs = getattr(dataset, 'crs', None)
    return None if crs is None else CRS.from_user_input(crs)


def _other_ranks(trainer: Trainer, sheets: SheetEvaluation) -> list[SheetEvaluation]:
    """The other processes' evaluations, on rank 0 (none on one process)."""
    if trainer.world_size == 1 or not torch.distributed.is_initialized():
        return []
    gathered: list[SheetEvaluation | None] = [None] * trainer.world_size
    torch.distributed.all_gather_object(gathered, sheets)
    return [
        g
        for rank, g in enumerate(gathered)
        if g is not None and rank != trainer.global_rank
    ]


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
    size = 4 + 0.55 * len(labels)
    figure, axes = plt.subplots(figsize=(size + 2, size), layout='constrained')
    image = axes.imshow(shares, cmap='Blues', vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha='right', fontsize=9)
    axes.set_yticks(range(len(labels)), labels, fontsize=9)
    axes.set_xlabel('predicted', fontsize=10)
    axes.set_ylabel('true', fontsize=10)
    for (row, column), share in np.ndenumerate(shares):
        if counts[row, column] > 0:
            colour = 'white' if share > 0.5 else 'black'
            text = f'{share:.2f}'.lstrip('0') if share >= 0.005 else '<.01'
            axes.text(
                column,
                row,
                '1' if share == 1 else text,
                ha='center',
                va='center',
                fontsize=8,
                color=colour,
            )
    overall = np.trace(counts) / max(counts.sum(), 1)
    axes.set_title(
        f'Test confusion matrix (row-normalised), overall accuracy {overall:.3f}'
    )
    figure.colorbar(image, ax=axes, label='share of the true class')
    save_figure(figure, path, dpi=150)


#: The per-class columns of :func:`format_metric_table`: heading, TorchGeo's name.
CLASS_METRICS = (
    ('IoU', 'JaccardIndex'),
    ('precision', 'Precision'),
    ('recall', 'Recall'),
    ('F1', 'F1Score'),
)


def format_metric_table(metrics: dict[str, float], stage: str) -> str:
    """TorchGeo's classification metrics of one stage as a compact table.

    The first line holds the loss and the overall and class-averaged scores,
    then one row per class with IoU, precision, recall and F1.

    Args:
        metrics: logged values by name, e.g. ``test_OverallAccuracy``,
            ``test_ClasswiseJaccardIndex_<class>``.
        stage: the prefix, ``'test'`` or ``'val'``.

    Returns:
        The text (empty when no metric of the stage was logged).
    """
    values = {
        name[len(stage) + 1 :]: float(value)
        for name, value in metrics.items()
        if name.startswith(f'{stage}_')
    }
    if not values:
        return ''
    head = [
        f'{label} {values[key]:.4f}'
        for label, key in (
            ('loss', 'loss'),
            ('overall accuracy', 'OverallAccuracy'),
            ('mean IoU', 'AverageJaccardIndex'),
            ('mean F1', 'AverageF1Score'),
        )
        if key in values
    ]
    prefix = f'Classwise{CLASS_METRICS[0][1]}_'
    classes = [name[len(prefix) :] for name in values if name.startswith(prefix)]
    width = max([len('class'), *map(len, classes)])
    lines = [f'{stage}: ' + ', '.join(head)]
    if classes:
        lines.append(
            f'  {"class":<{width}}' + ''.join(f'{h:>10}' for h, _ in CLASS_METRICS)
        )
        for name in classes:
            cells = ''.join(
                f'{values.get(f"Classwise{key}_{name}", float("nan")):>10.4f}'
                for _, key in CLASS_METRICS
            )
            lines.append(f'  {name:<{width}}{cells}')
    return '\n'.join(lines)


class MetricTable(Callback):
    """Print the metrics of ``test`` and ``validate`` as one compact table.

    Replaces Lightning's table of one row per metric (about 80 rows for 14
    classes, class names wrapped) with :func:`format_metric_table`: the overall
    scores on one line, then a row per class with IoU, precision, recall and
    F1. The metrics are logged and returned exactly as before; validation
    during ``fit`` prints nothing, as in Lightning.
    """

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Silence Lightning's own table of ``validate``.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        if trainer.state.fn == TrainerFn.VALIDATING:
            trainer.validate_loop.verbose = False

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Print the table of ``validate`` (not of validation during ``fit``).

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        if trainer.state.fn == TrainerFn.VALIDATING:
            self._print(trainer, 'val')

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Silence Lightning's own table of ``test``.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        trainer.test_loop.verbose = False

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Print the table of ``test``.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        self._print(trainer, 'test')

    @staticmethod
    def _print(trainer: Trainer, stage: str) -> None:
        if not trainer.is_global_zero:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        text = format_metric_table(metrics, stage)
        if text:
            print(text, flush=True)
