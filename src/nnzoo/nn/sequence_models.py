r"""A sequence core and a linear readout: the models of the memory problems (adding, copy memory, latch, echo).

The core reads the whole sequence: an Elman RNN, an LSTM or a GRU (the state at step t summarises steps 1…t), or
a pre-norm Transformer encoder with sinusoidal positions (every step sees every other in one layer). The readout
is linear, of the last step (many-to-one, e.g. the adding problem's sum) or of every step (many-to-many, e.g.
copy memory's recalled symbols):

.. math::
    h_{1..T} = \text{core}(x_{1..T}), \qquad y = W h_T + b \quad\text{or}\quad y_t = W h_t + b

The Jordan core is the exception: its readout is its own output layer, y_t = tanh(W_hy h_t + b_hy), the answer it
feeds back (:class:`~nnzoo.nn.recurrent.Jordan`), so the answers lie in [-1, 1].

Inputs are feature vectors (B, T, I), or token ids (B, T) read as one-hot vectors of size I.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.errors import require
from nnzoo.nn.recurrent import GRU, LSTM, RNN, Jordan, init_forget_gate_
from nnzoo.nn.transformer import SinusoidalPositionalEncoding, TransformerEncoder, TransformerEncoderLayer

Core = Literal["rnn", "jordan", "lstm", "gru", "transformer"]


@dataclass
class SequenceModelConfig:
    """Hyper-parameters of :class:`SequenceModel`."""

    width: int = 64  # hidden size of the recurrent core (the Jordan network's too); d_model of the Transformer
    nonlinearity: Literal["tanh", "relu"] = "tanh"  # the Elman and Jordan networks' hidden layer
    transformer_layers: int = 2
    transformer_heads: int = 4  # must divide the width; the feed-forward layers are 2 × width
    # The LSTM's gate biases (nnzoo.nn.init_forget_gate_): forget_bias = 1 is Gers et al.'s b_f = 1 (0: PyTorch's
    # initialisation); chrono = T_max is Tallec & Ollivier's chrono initialisation (0: off; it overrides forget_bias).
    forget_bias: float = 0.0
    chrono: int = 0
    # Keys added since, with the value that reproduces the runs saved before them (and keeps their identity).
    ADDED: ClassVar[dict[str, Any]] = {"forget_bias": 0.0, "chrono": 0}

    def __post_init__(self) -> None:
        require(self.chrono == 0 or self.chrono >= 3, "chrono is the longest dependency T_max, >= 3 (0: off)")
        require(self.width >= 1 and self.transformer_layers >= 1, "width and transformer_layers must be >= 1")
        require(
            self.transformer_heads >= 1 and self.width % self.transformer_heads == 0,
            f"width ({self.width}) must be a multiple of transformer_heads ({self.transformer_heads})",
        )


class SequenceModel(nn.Module):
    """``core`` over the sequence, then a linear readout of the last step (``readout="last"``: (B, O)) or of
    every step (``"every"``: (B, T, O)). With ``tokens``, inputs are ids (B, T) < ``inputs``; otherwise features
    (B, T, ``inputs``). ``max_len`` bounds the Transformer's positions.

    Example::

        >>> import torch
        >>> model = SequenceModel("lstm", 2, 1, "last", SequenceModelConfig(width=8))
        >>> model(torch.rand(3, 20, 2)).shape
        torch.Size([3, 1])
    """

    def __init__(
        self,
        core: Core,
        inputs: int,
        outputs: int,
        readout: Literal["last", "every"],
        config: SequenceModelConfig | None = None,
        *,
        tokens: bool = False,
        max_len: int = 1024,
    ):
        super().__init__()
        config = config or SequenceModelConfig()
        if core not in ("rnn", "jordan", "lstm", "gru", "transformer") or readout not in ("last", "every"):
            raise ValueError(
                f"core is rnn, jordan, lstm, gru or transformer and readout last or every; got {core}, {readout}"
            )
        self.kind, self.readout_of, self.tokens, self.inputs = core, readout, tokens, inputs
        width = config.width
        if core == "transformer":
            self.embed = nn.Linear(inputs, width)  # a one-hot token times a matrix is an embedding
            self.positions = SinusoidalPositionalEncoding(width, max_len)
            layer = TransformerEncoderLayer(
                width, config.transformer_heads, 2 * width, dropout=0.0, batch_first=True, norm_first=True
            )
            self.core = TransformerEncoder(layer, config.transformer_layers, norm=nn.LayerNorm(width))
        elif core == "rnn":
            self.core = RNN(inputs, width, nonlinearity=config.nonlinearity, batch_first=True)
        elif core == "jordan":
            self.core = Jordan(
                inputs, width, outputs, nonlinearity=config.nonlinearity, output_activation="tanh", batch_first=True
            )
        else:
            self.core = {"lstm": LSTM, "gru": GRU}[core](inputs, width, batch_first=True)
        if config.forget_bias or config.chrono:
            require(core == "lstm", f"model.forget_bias and model.chrono initialise an LSTM's gates; a {core} has none")
            init_forget_gate_(self.core, config.forget_bias, chrono=config.chrono)
        # The Jordan network's output layer is part of its recurrence: the answer it gives is the one it feeds back.
        self.readout = nn.Identity() if core == "jordan" else nn.Linear(width, outputs)

    def features(self, x: Tensor) -> Tensor:
        """The core's input: one-hot vectors of token ids, or the features as they are."""
        return F.one_hot(x, self.inputs).float() if self.tokens else x

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        if self.kind == "transformer":
            states = self.core(self.positions(self.embed(x)))
        else:
            states, _ = self.core(x)
        return self.readout(states[:, -1] if self.readout_of == "last" else states)
