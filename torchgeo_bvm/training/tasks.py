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
loaded, training stops with a :class:`~torchgeo_bvm.errors.BVMFileError` that
names the weights, the reason and the override that trains without them (under
``torchgeo fit`` with the package's data module: that one line, exit status 2).
ImageNet weights not in the Hugging Face cache while the hub's host name does
not resolve (no network) fail at once, without the hub's retries.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlparse

from torchgeo.tasks import SemanticSegmentation

from ..errors import BVMFileError

__all__ = ['WEIGHTS_OVERRIDE', 'BVMSemanticSegmentation', 'imagenet_unreachable']

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
    stops with :class:`~torchgeo_bvm.errors.BVMFileError`, one line naming the
    weights, the reason and the override :data:`WEIGHTS_OVERRIDE`.

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
            BVMFileError: if the weights cannot be loaded.
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
            BVMFileError: if the weights cannot be loaded.
        """
        weights = self.initial_weights
        if not weights or self.hparams['model'] == 'fcn':
            return
        backbone = self.hparams['backbone']
        if weights is True:
            reason = imagenet_unreachable(backbone)
            if reason:
                raise BVMFileError(_unavailable(backbone, weights, reason))
        built = self.model
        try:
            SemanticSegmentation.configure_models(self)
        except OSError as error:
            reason = ' '.join(str(error).split()) or type(error).__name__
            if len(reason) > 160:  # the hub's messages run over several lines
                reason = reason[:157] + '...'
            raise BVMFileError(_unavailable(backbone, weights, reason)) from None
        finally:
            loaded, self.model = self.model, built
        built.encoder.load_state_dict(loaded.encoder.state_dict())
        self.initial_weights_loaded = True


def imagenet_unreachable(backbone: str) -> str:
    """Why smp's ImageNet weights of an encoder cannot be fetched now, if it is clear.

    The weights are on the Hugging Face hub; once fetched, they are read from
    its cache. Without them in the cache and with the hub's host name not
    resolving (no network or DNS, and no proxy configured), fetching would
    only retry for half a minute and fail.

    Args:
        backbone: the smp encoder (``'vgg16'``, ``'resnet18'``, ...).

    Returns:
        The reason, or ``''`` when the weights are cached, the host resolves,
        a proxy or the hub's offline mode decides, or the encoder is not one
        whose weights smp keeps on the hub.
    """
    from huggingface_hub import constants, try_to_load_from_cache
    from segmentation_models_pytorch.encoders import encoders

    settings = encoders.get(backbone, {}).get('pretrained_settings', {})
    source = settings.get('imagenet')
    if source is None or constants.HF_HUB_OFFLINE:
        return ''
    cached = [
        try_to_load_from_cache(source['repo_id'], name, revision=source['revision'])
        for name in ('config.json', 'model.safetensors')
    ]
    if all(isinstance(path, str) for path in cached) or _proxy_configured():
        return ''
    host = urlparse(constants.ENDPOINT).hostname or constants.ENDPOINT
    try:
        socket.getaddrinfo(host, 443)
    except (socket.gaierror, UnicodeError):
        return (
            f'not in the Hugging Face cache {constants.HF_HUB_CACHE} and {host} '
            'does not resolve: no network or DNS?'
        )
    return ''


def _proxy_configured() -> bool:
    names = ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy')
    return any(os.environ.get(name) for name in names)


def _unavailable(backbone: str, weights: object, reason: str) -> str:
    what = (
        f'the ImageNet weights of the {backbone} encoder'
        if weights is True
        else f'the initial weights {weights!r}'
    )
    return (
        f'{what} could not be loaded ({reason}); to train from random '
        f'weights instead, add {WEIGHTS_OVERRIDE}'
    )
