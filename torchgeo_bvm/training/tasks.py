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
"""

from __future__ import annotations

from typing import Any

from torchgeo.tasks import SemanticSegmentation

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

    Args:
        *args: TorchGeo's :class:`~torchgeo.tasks.SemanticSegmentation` arguments.
        **kwargs: TorchGeo's :class:`~torchgeo.tasks.SemanticSegmentation` arguments.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        self.initial_weights_loaded = False

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
