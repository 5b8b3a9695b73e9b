r"""Neural forecasters: a window of the past in, the next ``steps`` values out.

Every core maps a scaled window z (B, W) to scaled forecasts (B, steps); :class:`ScaledForecaster` wraps a core
between the scaler (fitted on the training part of the series only) so that it takes and returns raw values.

* :class:`NextStepForecaster` — the notes' many-to-one pattern: an RNN reads the window, a linear head predicts
  the *next* value, :math:`\hat y_{t+1} = w^\top h_t + b`. It is trained on that one step; to forecast further
  it feeds each prediction back as the next input, continuing from its state (recursive forecasting).
* :class:`Seq2SeqForecaster` — the encoder–decoder pattern: an encoder RNN reads the window, its final state
  (the context) starts a decoder RNN that emits the horizon one value at a time, reading its own previous
  forecast. It is trained on the whole horizon, free-running, so it learns to live with its own errors.
* :class:`TransformerForecaster` — a Transformer encoder over the window's values (projected to d_model, with
  sinusoidal positions); a linear head reads the last position and emits the whole horizon at once (direct
  multi-horizon forecasting).
* :class:`ConvolutionalForecaster` — a temporal convolutional network (causal dilated convolutions,
  :class:`~nnzoo.nn.tcn.TCN`) over the window, deep enough to see all of it; a linear head reads the last
  position and emits the whole horizon, as the Transformer's does.

The next-step model is the seq2seq model whose decoder *is* its encoder, trained on one step: the comparison
between the two isolates the training objective. Both take a :class:`RecurrentForecasterConfig`, whose
``strategy`` picks one of them in :func:`recurrent_forecaster`; the Transformer takes a
:class:`TransformerForecasterConfig`, the TCN a :class:`ConvolutionalForecasterConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from nnzoo.errors import require
from nnzoo.nn.recurrent import recurrent_layer
from nnzoo.nn.rnn_patterns import EncoderDecoder
from nnzoo.nn.tcn import TCN, levels_for
from nnzoo.nn.transformer import (
    SinusoidalPositionalEncoding,
    TransformerEncoder,
    TransformerEncoderConfig,
    TransformerEncoderLayer,
)

STRATEGIES = ("next-step", "seq2seq")


def _recurrent(cell: str, config: RecurrentForecasterConfig) -> nn.Module:
    return recurrent_layer(cell, 1, config.hidden_size, config.num_layers, config.dropout)


def _check_window(z: Tensor, steps: int, horizon: int | None = None) -> None:
    """Windows (B, W) and a number of steps to forecast: at least 1, and at most ``horizon`` for the forecasters
    whose head emits a fixed number of steps at once."""
    if z.dim() != 2 or z.shape[1] < 1:
        raise ValueError(f"a forecaster takes windows of shape (B, W) with W >= 1, got {tuple(z.shape)}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if horizon is not None and steps > horizon:
        raise ValueError(f"this forecaster emits at most {horizon} steps at once, asked for {steps}")


@dataclass
class RecurrentForecasterConfig:
    """Hyper-parameters of the recurrent forecasters, :class:`NextStepForecaster` and :class:`Seq2SeqForecaster`."""

    hidden_size: int = 64
    num_layers: int = 1  # stacked recurrent layers (in the encoder and in the decoder)
    dropout: float = 0.0  # between stacked recurrent layers, so only with num_layers > 1
    strategy: Literal["next-step", "seq2seq"] = "seq2seq"  # encoder–decoder, or many-to-one on the next value

    def __post_init__(self) -> None:
        require(
            self.hidden_size >= 1 and self.num_layers >= 1,
            f"hidden_size and num_layers must be >= 1, got {self.hidden_size} and {self.num_layers}",
        )
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        require(self.strategy in STRATEGIES, f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")


class NextStepForecaster(nn.Module):
    r"""Many-to-one next-step RNN, unrolled on its own predictions to forecast ``steps`` ahead.

    .. math::
        h_t = \text{RNN}(z_t, h_{t-1}), \qquad \hat z_{t+1} = w^\top h_t + b, \qquad
        h_{t+k} = \text{RNN}(\hat z_{t+k}, h_{t+k-1})

    Shapes: z (B, W) -> (B, steps). ``cell`` is ``"rnn"``, ``"lstm"`` or ``"gru"``; of the ``config``
    (:class:`RecurrentForecasterConfig`) it uses the sizes and dropout, not ``strategy``, which only
    :func:`recurrent_forecaster` reads.

    Example::

        >>> import torch
        >>> model = NextStepForecaster("lstm", RecurrentForecasterConfig(hidden_size=8))
        >>> model(torch.randn(4, 24), 6).shape
        torch.Size([4, 6])
    """

    train_steps_all = False  # trained on the next step only

    def __init__(self, cell: Literal["rnn", "lstm", "gru"], config: RecurrentForecasterConfig | None = None):
        super().__init__()
        config = config or RecurrentForecasterConfig()
        self.rnn = _recurrent(cell, config)
        self.head = nn.Linear(config.hidden_size, 1)

    def forward(self, z: Tensor, steps: int) -> Tensor:
        _check_window(z, steps)
        output, state = self.rnn(z.unsqueeze(-1))
        forecasts = [self.head(output[:, -1])]  # (B, 1)
        for _ in range(steps - 1):
            output, state = self.rnn(forecasts[-1].unsqueeze(1), state)
            forecasts.append(self.head(output[:, -1]))
        return torch.cat(forecasts, dim=1)


class Seq2SeqForecaster(nn.Module):
    r"""Encoder–decoder RNN: the window's context vector starts a decoder that emits the horizon.

    .. math::
        c = h^{enc}_W, \quad h^{dec}_0 = c, \quad
        h^{dec}_k = \text{RNN}_{dec}(\hat z_{t+k-1}, h^{dec}_{k-1}), \quad \hat z_{t+k} = w^\top h^{dec}_k + b

    with :math:`\hat z_t = z_t`, the last observed value. Shapes: z (B, W) -> (B, steps). ``cell`` and ``config``
    as for :class:`NextStepForecaster`.

    Example::

        >>> import torch
        >>> model = Seq2SeqForecaster("gru", RecurrentForecasterConfig(hidden_size=8, num_layers=2))
        >>> model(torch.randn(4, 24), 6).shape
        torch.Size([4, 6])
    """

    train_steps_all = True

    def __init__(self, cell: Literal["rnn", "lstm", "gru"], config: RecurrentForecasterConfig | None = None):
        super().__init__()
        config = config or RecurrentForecasterConfig()
        self.pattern = EncoderDecoder(
            _recurrent(cell, config),
            _recurrent(cell, config),
            nn.Linear(config.hidden_size, 1),
        )

    def forward(self, z: Tensor, steps: int) -> Tensor:
        _check_window(z, steps)
        state = self.pattern.context(z.unsqueeze(-1))
        previous, forecasts = z[:, -1:], []
        for _ in range(steps):
            output, state = self.pattern.decoder(previous.unsqueeze(1), state)
            previous = self.pattern.head(output[:, -1])
            forecasts.append(previous)
        return torch.cat(forecasts, dim=1)


def recurrent_forecaster(
    cell: Literal["rnn", "lstm", "gru"], config: RecurrentForecasterConfig | None = None
) -> NextStepForecaster | Seq2SeqForecaster:
    """The recurrent forecaster that ``config.strategy`` names: :class:`Seq2SeqForecaster` (``"seq2seq"``) or
    :class:`NextStepForecaster` (``"next-step"``).

    Example::

        >>> type(recurrent_forecaster("gru", RecurrentForecasterConfig(strategy="next-step"))).__name__
        'NextStepForecaster'
    """
    config = config or RecurrentForecasterConfig()
    kind = NextStepForecaster if config.strategy == "next-step" else Seq2SeqForecaster
    return kind(cell, config)


@dataclass
class TransformerForecasterConfig(TransformerEncoderConfig):
    """Hyper-parameters of :class:`TransformerForecaster`: a narrower encoder than the token models' (one value in
    per position, not an embedding)."""

    d_model: int = 64
    dim_feedforward: int = 128


class TransformerForecaster(nn.Module):
    r"""Transformer encoder over the window, a linear head on the last position for the whole horizon.

    .. math::
        x_i = W_{in} z_i + b_{in} + PE_i, \qquad H = \text{Encoder}(x_1 \dots x_W), \qquad
        (\hat z_{t+1} \dots \hat z_{t+K}) = W_{out} \operatorname{LN}(H_W) + b_{out}

    Pre-norm layers (``norm_first``), sinusoidal positions. Shapes: z (B, W) -> (B, steps) with steps <=
    ``horizon`` and W <= ``max_len``.

    Args:
        horizon: the most values it forecasts at once (the head's outputs).
        max_len: the longest window it reads (its positions).
        config: sizes and dropout (:class:`TransformerForecasterConfig`; its defaults when omitted).

    Example::

        >>> import torch
        >>> config = TransformerForecasterConfig(d_model=16, nhead=2, dim_feedforward=32, num_layers=1)
        >>> model = TransformerForecaster(6, 25, config)
        >>> model(torch.randn(4, 24), 6).shape
        torch.Size([4, 6])
    """

    train_steps_all = True

    def __init__(self, horizon: int, max_len: int, config: TransformerForecasterConfig | None = None):
        super().__init__()
        config = config or TransformerForecasterConfig()
        self.horizon = horizon
        self.input = nn.Linear(1, config.d_model)
        self.position = SinusoidalPositionalEncoding(config.d_model, max_len)
        layer = TransformerEncoderLayer(
            config.d_model, config.nhead, config.dim_feedforward, config.dropout, batch_first=True, norm_first=True
        )
        self.encoder = TransformerEncoder(layer, config.num_layers, nn.LayerNorm(config.d_model))
        self.head = nn.Linear(config.d_model, horizon)

    def forward(self, z: Tensor, steps: int) -> Tensor:
        _check_window(z, steps, self.horizon)
        encoded = self.encoder(self.position(self.input(z.unsqueeze(-1))))
        return self.head(encoded[:, -1])[:, :steps]


@dataclass
class ConvolutionalForecasterConfig:
    """Hyper-parameters of :class:`ConvolutionalForecaster`."""

    channels: int = 32
    levels: int = 0  # 0: the fewest whose receptive field covers the window
    kernel_size: int = 3
    dropout: float = 0.1

    def __post_init__(self) -> None:
        require(self.channels >= 1 and self.levels >= 0 and self.kernel_size >= 2,
                "channels >= 1, levels >= 0 (0: enough to see the window) and kernel_size >= 2")  # fmt: skip
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")


class ConvolutionalForecaster(nn.Module):
    r"""TCN over the window, a linear head on the last position for the whole horizon.

    .. math::
        H = \text{TCN}(z_1 \dots z_W), \qquad (\hat z_{t+1} \dots \hat z_{t+K}) = W_{out} H_W + b_{out}

    Shapes: z (B, W) -> (B, steps) with steps <= ``horizon``. With ``config.levels = 0`` the network gets the
    fewest levels whose receptive field covers ``window`` steps.

    Example::

        >>> import torch
        >>> model = ConvolutionalForecaster(6, 24, ConvolutionalForecasterConfig(channels=8))
        >>> model.tcn.levels, model.tcn.receptive_field, model(torch.randn(4, 24), 6).shape
        (3, 29, torch.Size([4, 6]))
    """

    train_steps_all = True

    def __init__(self, horizon: int, window: int, config: ConvolutionalForecasterConfig | None = None):
        super().__init__()
        config = config or ConvolutionalForecasterConfig()
        self.horizon = horizon
        levels = config.levels or levels_for(window, config.kernel_size)
        self.tcn = TCN(1, config.channels, levels, config.kernel_size, config.dropout)
        self.head = nn.Linear(config.channels, horizon)

    def forward(self, z: Tensor, steps: int) -> Tensor:
        _check_window(z, steps, self.horizon)
        return self.head(self.tcn(z.unsqueeze(-1))[:, -1])[:, :steps]


class ScaledForecaster(nn.Module):
    r"""A core forecaster between the scaler: raw window (B, W) -> raw forecasts (B, steps).

    .. math::
        z = (y - r) / s, \qquad \hat y = r + s\, \text{core}(z)

    ``relative=False``: r = the training part's mean, s its standard deviation. ``relative=True``: r = the
    window's last value (so a trending series looks the same at every level) and s = the standard deviation of
    the training part's one-step changes. Both use the training part only: nothing from the future leaks in.
    """

    def __init__(self, core: nn.Module, center: float, scale: float, relative: bool):
        super().__init__()
        self.core, self.relative = core, relative
        self.register_buffer("center", torch.tensor(center, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))

    @property
    def train_steps_all(self) -> bool:
        return self.core.train_steps_all

    def reference(self, window: Tensor) -> Tensor:
        return window[:, -1:] if self.relative else self.center

    def to_scaled(self, window: Tensor, values: Tensor) -> Tensor:
        return (values - self.reference(window)) / self.scale

    def scaled_forecast(self, window: Tensor, steps: int) -> Tensor:
        return self.core(self.to_scaled(window, window), steps)

    def forward(self, window: Tensor, steps: int) -> Tensor:
        return self.reference(window) + self.scale * self.scaled_forecast(window, steps)
