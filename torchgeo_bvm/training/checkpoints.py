"""Lightning's checkpoint callback, saying which files a run writes.

Lightning never replaces a checkpoint of an earlier run: when
``checkpoints/bvm_all/best.ckpt`` exists, a new ``torchgeo fit`` writes
``best-v1.ckpt`` (then ``-v2``, ...) beside it, with only a generic warning
that the folder is not empty. A ``torchgeo test --ckpt_path .../best.ckpt``
that follows would then evaluate the earlier run's model without a word.

:class:`ModelCheckpoint` is Lightning's callback with the same arguments and
files; it says, when a fresh run starts, which names the files of the earlier
run hold and which this run takes instead, and, when fitting ends, where the
best and last weights are. The package's configurations name it in place of
Lightning's.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint as LightningModelCheckpoint
from lightning.pytorch.utilities import rank_zero_info

__all__ = ['ModelCheckpoint']

#: Lightning's warning at setup, which :meth:`ModelCheckpoint.fit_start_notice`
#: replaces with the names the run takes.
_NOT_EMPTY = r'Checkpoint directory .* exists and is not empty'


class ModelCheckpoint(LightningModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` that names the files a run writes.

    Takes exactly Lightning's arguments and writes the same files. In
    addition, with a fixed file name (no ``{metric}`` in ``filename``):

    * when a fresh ``fit`` starts (not resuming) in a folder where an earlier
      run left ``best.ckpt`` or ``last.ckpt``, it prints which names this run
      writes instead (``best-v1.ckpt``, Lightning's rule), in place of
      Lightning's warning that the folder is not empty;
    * when ``fit`` ends, it prints the paths of the best and the last weights.

    Args:
        *args: Lightning's ``ModelCheckpoint`` arguments.
        **kwargs: Lightning's ``ModelCheckpoint`` arguments.
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Resolve the folder as Lightning does, without its not-empty warning.

        Args:
            trainer: the trainer.
            pl_module: the task.
            stage: ``'fit'``, ``'validate'``, ``'test'`` or ``'predict'``.
        """
        with warnings.catch_warnings():
            if self.fixed_names():
                warnings.filterwarnings('ignore', message=_NOT_EMPTY)
            super().setup(trainer, pl_module, stage)

    def fixed_names(self) -> list[str]:
        """The file names this callback writes when they do not depend on metrics.

        Returns:
            ``best``-style and ``last`` stems (without ``.ckpt``) it saves, or
            ``[]`` when a name holds a ``{metric}`` or it keeps several best.
        """
        names = []
        if self.save_top_k == 1 and self.filename:
            names.append(self.filename)
        if self.save_last:
            names.append(self.CHECKPOINT_NAME_LAST)
        if any('{' in name for name in names):
            return []
        return names

    def next_free(self, stem: str) -> Path:
        """The file Lightning writes for ``stem`` in this folder now.

        Args:
            stem: a fixed file name without ``.ckpt``.

        Returns:
            ``stem.ckpt``, or the first ``stem-vN.ckpt`` that does not exist.
        """
        path = Path(self.format_checkpoint_name({}, filename=stem))
        version = self.STARTING_VERSION
        while self._enable_version_counter and path.exists():
            path = Path(self.format_checkpoint_name({}, filename=stem, ver=version))
            version += 1
        return path

    def fit_start_notice(self) -> str:
        """What a fresh run says about the files an earlier run left.

        Returns:
            One line naming the earlier files and the ones this run writes, or
            ``''`` when the names are free.
        """
        written = {stem: self.next_free(stem) for stem in self.fixed_names()}
        ext = self.FILE_EXTENSION
        taken = {s: p for s, p in written.items() if p.name != f'{s}{ext}'}
        if not taken:
            return ''
        old = ' and '.join(f'{s}{ext}' for s in taken)
        new = ' and '.join(p.name for p in taken.values())
        return (
            f'checkpoints: {_shown(self.dirpath)} holds {old} of an earlier run; '
            f'this run writes {new} (the names to give test and predict), or '
            'empty the folder first'
        )

    def fit_end_notice(self) -> str:
        """Where the best and the last weights of the run are.

        Returns:
            One line.
        """
        if self.best_model_path:
            score = self.best_model_score
            value = '' if score is None else f' ({self.monitor} {float(score):.4f})'
            best = f'best {_shown(self.best_model_path)}{value}'
        elif self.monitor is not None and self.save_top_k != 0:
            best = f'no best checkpoint (no {self.monitor} was logged)'
        else:
            best = ''
        last = f'last {_shown(self.last_model_path)}' if self.last_model_path else ''
        return 'checkpoints: ' + '; '.join(part for part in (best, last) if part)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Say which names this run writes, when an earlier run holds them.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        super().on_fit_start(trainer, pl_module)
        if trainer.ckpt_path is None and trainer.is_global_zero:
            notice = self.fit_start_notice()
            if notice:
                rank_zero_info(notice)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Say where the best and the last weights are.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        super().on_fit_end(trainer, pl_module)
        if trainer.is_global_zero and (self.best_model_path or self.last_model_path):
            rank_zero_info(self.fit_end_notice())


def _shown(path: str | Path | None) -> str:
    """A path as a user gave it: relative to the working folder when inside it."""
    absolute = Path(str(path)).absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)
