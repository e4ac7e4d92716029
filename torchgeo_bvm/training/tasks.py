"""TorchGeo's semantic segmentation task, its initial weights loaded for fit only.

TorchGeo's :class:`~torchgeo.tasks.SemanticSegmentation` builds its network, and
fetches its initial weights (ImageNet with ``weights: true``, a weight enum or a
file), as soon as it is constructed. ``torchgeo test`` and ``torchgeo predict``
construct the task from the same configuration before loading the checkpoint,
so they would fetch weights the checkpoint replaces at once; without network
access they fail.

:class:`BVMSemanticSegmentation` is the same task (same arguments, network,
metrics and checkpoints) that loads the initial weights when training starts
instead: ``torchgeo fit`` loads them, ``torchgeo fit --ckpt_path`` (resuming),
``validate``, ``test`` and ``predict`` never need them. When they cannot be
loaded, training stops with one line that names the weights and the override
that trains without them.

Its probabilities are calibrated: every validation fits a temperature on the
validation sheets (:mod:`~torchgeo_bvm.training.calibration`), kept in the
task's ``temperature`` buffer and so in every checkpoint, and ``predict``
divides the logits by it before the softmax; the classes stay the same. A
fused map's confidence is calibrated by the ``confidence_table`` buffer,
which ``torchgeo-bvm calibrate`` fits on the fused map of the validation
sheets and stores in a copy of the checkpoint; the prediction writer applies
it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torch.nn import Module
from torchgeo.datasets.utils import Sample
from torchgeo.tasks import SemanticSegmentation

from .calibration import ValidationLogits, identity_table

__all__ = ['WEIGHTS_OVERRIDE', 'BVMSemanticSegmentation']

#: The command-line override that trains from random weights.
WEIGHTS_OVERRIDE = '--model.init_args.weights=null'


class BVMSemanticSegmentation(SemanticSegmentation):
    """:class:`~torchgeo.tasks.SemanticSegmentation` whose initial weights load at fit.

    Takes exactly the arguments of TorchGeo's task. The network is built with
    random weights; the initial ``weights`` (``true`` for ImageNet, a weight enum
    or its name, or a state-dict file) are loaded into the encoder when
    ``fit`` starts, unless training resumes from a checkpoint. Evaluation and
    prediction restore the checkpoint's weights and never load them.

    If the weights cannot be loaded (no network and no cached copy), ``fit``
    stops with :class:`SystemExit` and a one-line message naming the weights,
    the reason and the override :data:`WEIGHTS_OVERRIDE`.

    The softmax's temperature (the ``temperature`` buffer, 1 until fitted) is
    fitted at the end of every validation on a sample of the validation
    pixels (:class:`~torchgeo_bvm.training.calibration.ValidationLogits`) and
    saved with the weights; a checkpoint without one (written before) loads
    with 1. ``predict_step`` divides the logits by it unless ``calibrated``
    is False. The ``confidence_table`` buffer (``[classes, 251]``: the
    calibrated probability of each confidence code of a fused map per
    predicted class, the identity until ``torchgeo-bvm calibrate`` fits it) is
    what
    :class:`~torchgeo_bvm.training.prediction.SheetPredictionWriter` writes
    the fused confidence through, unless ``calibrated`` is False.

    Args:
        *args: TorchGeo's :class:`~torchgeo.tasks.SemanticSegmentation` arguments.
        calibrated: predict calibrated probabilities (``softmax(logits / T)``);
            False predicts the network's own softmax.
        **kwargs: TorchGeo's :class:`~torchgeo.tasks.SemanticSegmentation` arguments.
    """

    temperature: Tensor
    confidence_table: Tensor

    def __init__(
        self,
        *args: Any,  # noqa: ANN401
        calibrated: bool = True,
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        super().__init__(*args, **kwargs)
        self.initial_weights_loaded = False
        self.calibrated = calibrated
        self.register_buffer('temperature', torch.ones(()))
        self.register_buffer('confidence_table', identity_table(self._classes()))
        self.validation_logits = ValidationLogits(self.hparams['ignore_index'] or -1)
        self._outputs: Tensor | None = None

    def configure_models(self) -> None:
        """Build the network with random weights; remember the initial ones."""
        self.initial_weights = self.weights
        self.weights = None
        try:
            super().configure_models()
        finally:
            self.weights = self.initial_weights

    def on_fit_start(self) -> None:
        """Load the initial weights into the encoder, unless resuming.

        Raises:
            SystemExit: if the weights cannot be loaded.
        """
        super().on_fit_start()
        if self.trainer.ckpt_path is None:
            self.load_initial_weights()

    # -- calibration ---------------------------------------------------------------

    def _capture(
        self, module: Module, args: tuple[object, ...], output: Tensor
    ) -> None:
        self._outputs = output.detach()

    def on_validation_epoch_start(self) -> None:
        """Start a new sample of validation pixels."""
        super().on_validation_epoch_start()
        self.validation_logits.reset()

    def validation_step(
        self,
        batch: Sample,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """TorchGeo's validation step; its logits join the calibration sample.

        Args:
            batch: the batch.
            batch_idx: its index.
            dataloader_idx: the dataloader's index.
        """
        handle = self.register_forward_hook(self._capture)
        try:
            super().validation_step(batch, batch_idx, dataloader_idx)
        finally:
            handle.remove()
        outputs, self._outputs = self._outputs, None
        if outputs is None or self.trainer.sanity_checking:
            return
        if self.hparams['task'] == 'multiclass':
            batches = sum(self.trainer.num_val_batches)
            self.validation_logits.add(outputs, batch['mask'], batch_idx, int(batches))

    def on_validation_epoch_end(self) -> None:
        """Fit the temperature on the sample (before the checkpoint is saved)."""
        super().on_validation_epoch_end()
        fitted = self.validation_logits.fit(self)
        self.validation_logits.reset()
        if fitted is not None:
            self.temperature.fill_(fitted)
            self.log('val_temperature', fitted, sync_dist=False)

    def _classes(self) -> int:
        return int(self.hparams['num_classes'] or self.hparams['num_labels'] or 1)

    def map_confidence_table(self) -> NDArray[np.float64] | None:
        """The table the prediction writer applies to the fused confidence.

        Returns:
            ``confidence_table`` as numpy, None when ``calibrated`` is False.
        """
        if not self.calibrated:
            return None
        table: NDArray[np.float64] = (
            self.confidence_table.detach().cpu().double().numpy()
        )
        return table

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Give a checkpoint written without a calibration the neutral one.

        Args:
            checkpoint: the checkpoint being loaded.
        """
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get('state_dict')
        if isinstance(state, dict):
            state.setdefault('temperature', torch.ones(()))
            state.setdefault('confidence_table', identity_table(self._classes()))

    def predict_step(
        self,
        batch: Sample,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> dict[str, Tensor | None]:
        """Class probabilities, calibrated by the temperature.

        Args:
            batch: the batch.
            batch_idx: its index.
            dataloader_idx: the dataloader's index.

        Returns:
            TorchGeo's dictionary: ``probabilities``, ``bounds``, ``transform``.
        """
        if self.hparams['task'] != 'multiclass':
            result: dict[str, Tensor | None] = super().predict_step(
                batch, batch_idx, dataloader_idx
            )
            return result
        logits: Tensor = self(batch['image'])
        if self.calibrated:
            logits = logits / self.temperature
        return {
            'probabilities': logits.softmax(dim=1),
            'bounds': batch.get('bounds'),
            'transform': batch.get('transform'),
        }

    # -- initial weights -------------------------------------------------------------

    def load_initial_weights(self) -> None:
        """Load the initial ``weights`` into the encoder (nothing if there are none).

        The network is built again as TorchGeo builds it, with the weights, and
        its encoder's parameters are copied into this task's encoder, so the
        result is the network TorchGeo's own task starts from.

        Raises:
            SystemExit: if the weights cannot be loaded.
        """
        weights = self.initial_weights
        if not weights or self.hparams['model'] == 'fcn':
            return
        built = self.model
        try:
            SemanticSegmentation.configure_models(self)
        except OSError as error:
            message = _unavailable(self.hparams['backbone'], weights, error)
            raise SystemExit(message) from None
        finally:
            loaded, self.model = self.model, built
        built.encoder.load_state_dict(loaded.encoder.state_dict())
        self.initial_weights_loaded = True


def _unavailable(backbone: str, weights: object, error: OSError) -> str:
    what = (
        f'the ImageNet weights of the {backbone} encoder'
        if weights is True
        else f'the initial weights {weights!r}'
    )
    reason = ' '.join(str(error).split()) or type(error).__name__
    if len(reason) > 120:
        reason = reason[:117] + '...'
    return (
        f'error: {what} could not be loaded ({reason}); to train from random '
        f'weights instead, add {WEIGHTS_OVERRIDE}'
    )
