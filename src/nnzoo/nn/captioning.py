r"""Image captioning, the notes' one-to-many pattern: a CNN reads the image, an LSTM writes the sentence.

Both models share a convolutional encoder (:class:`ConvFeatures`), which turns an image (B, C, H, W) into a grid
of feature vectors :math:`a_1, \dots, a_L` (L = h·w cells of D channels), and differ in how the decoder sees them:

==========================  ==================================================================================
:class:`ContextCaptioner`   one context vector v = ReLU(BN(W flatten(a))) starts the LSTM, as in the encoder–decoder
                            of :class:`~nnzoo.nn.ContextSeq2Seq`; everything the sentence says passes through v
                            ("Show and Tell", Vinyals et al. 2015).
:class:`AttentionCaptioner` at every word the decoder attends over the L cells and reads their weighted mean
                            ("Show, Attend and Tell", Xu et al. 2015): where it looks is visible.
==========================  ==================================================================================

Both implement the interface of the sequence-to-sequence models, so :mod:`nnzoo.decode` decodes them with the
same greedy and beam search: ``forward(images, tgt_in) -> logits`` (B, T, V) with teacher forcing,
``encode(images) -> memory``, ``init_state``, ``step``, ``reorder_state``, and ``attention_weights(images,
tgt_in)`` -> (B, T, L) (None for the context model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.decode import select
from nnzoo.errors import require
from nnzoo.nn.attention import AdditiveAttention
from nnzoo.nn.conv import conv_bn_relu
from nnzoo.nn.recurrent import LSTM, LSTMCell


@dataclass
class CaptionerConfig:
    """Hyper-parameters of :class:`ContextCaptioner` and :class:`AttentionCaptioner`."""

    channels: list[int] = field(default_factory=lambda: [32, 64, 128])  # CNN stages, each halving the image
    convs_per_stage: int = 1  # 3 × 3 convolution – batch norm – ReLU layers per stage, before its max pooling
    embed_dim: int = 64  # word embeddings
    hidden_size: int = 256  # the LSTM's state (and the context model's image vector)
    attention_size: int = 128  # the additive attention's hidden layer (attention model)
    dropout: float = 0.2  # on the embeddings, the image features and before the output layer

    def __post_init__(self) -> None:
        require(
            len(self.channels) >= 1 and all(c >= 1 for c in self.channels),
            f"channels must be one or more sizes >= 1, got {list(self.channels)}",
        )
        require(
            min(self.convs_per_stage, self.embed_dim, self.hidden_size, self.attention_size) >= 1,
            "convs_per_stage, embed_dim, hidden_size and attention_size must be >= 1",
        )
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")


class ConvFeatures(nn.Sequential):
    """The image encoder: per stage, ``convs_per_stage`` × (3 × 3 convolution – batch norm – ReLU), then 2 × 2 max
    pooling. Images (B, C, H, W) -> features (B, channels[-1], H / 2^S, W / 2^S) for S stages."""

    def __init__(self, in_channels: int, config: CaptionerConfig):
        layers: list[nn.Module] = []
        for out_channels in config.channels:
            for i in range(config.convs_per_stage):
                layers.append(conv_bn_relu(in_channels if i == 0 else out_channels, out_channels))
            layers.append(nn.MaxPool2d(2))
            in_channels = out_channels
        super().__init__(*layers)
        self.stages = len(config.channels)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """The feature grid (h, w) of an image of height × width, or a ValueError if it does not divide."""
        scale = 2**self.stages
        if height % scale or width % scale:
            raise ValueError(f"a {height}×{width} image cannot be halved {self.stages} times (once per CNN stage)")
        return height // scale, width // scale


def _check_images(images: Tensor, in_channels: int) -> None:
    if images.dim() != 4 or images.shape[1] != in_channels or not images.is_floating_point():
        raise ValueError(
            f"images must be a float (B, {in_channels}, H, W) tensor, got {tuple(images.shape)} {images.dtype}"
        )


class ContextCaptioner(nn.Module):
    r"""A caption from one context vector (Vinyals et al. 2015, "Show and Tell"):

    .. math::
        v = \operatorname{ReLU}(\operatorname{BN}(W_v \operatorname{flatten}(\operatorname{CNN}(I)))), \qquad
        h_0 = \tanh(W_h v), \quad c_0 = \tanh(W_c v) \\
        h_t, c_t = \operatorname{LSTM}(E y_{t-1}, (h_{t-1}, c_{t-1})), \qquad
        p(y_t \mid y_{<t}, I) = \operatorname{softmax}(W_o h_t + b_o)

    The flattening keeps where each feature is, so v can tell left from right. v is batch-normalised, as
    :class:`~nnzoo.nn.ConvNet`'s features are: without it, Adam moves the 8,192-input layer's output so fast that
    tanh saturates and the state carries nothing of the image (measured: the loss stayed at the language prior's).
    (The paper feeds v as the LSTM's first input; starting the state from it, as the notes' encoder–decoder does,
    is the same idea.)

    Args:
        image_shape: (C, H, W) of the images; H and W divisible by 2 ** len(config.channels).
        vocab_size: number of word ids (specials included).
        config: sizes and dropout (:class:`CaptionerConfig`; its defaults when omitted).
        pad_id: the padding id (its embedding stays zero).

    Example::

        >>> model = ContextCaptioner((1, 32, 32), 12, CaptionerConfig(channels=[4, 8], hidden_size=16))
        >>> model(torch.zeros(2, 1, 32, 32), torch.randint(3, 12, (2, 5))).shape
        torch.Size([2, 5, 12])
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        vocab_size: int,
        config: CaptionerConfig | None = None,
        *,
        pad_id: int = 0,
    ):
        super().__init__()
        config = config or CaptionerConfig()
        self.in_channels = image_shape[0]
        self.encoder = ConvFeatures(image_shape[0], config)
        height, width = self.encoder.grid(*image_shape[1:])
        self.image = nn.Sequential(  # the context vector v
            nn.Linear(config.channels[-1] * height * width, config.hidden_size, bias=False),
            nn.BatchNorm1d(config.hidden_size),
            nn.ReLU(),
        )
        self.bridge_h = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.bridge_c = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.embed = nn.Embedding(vocab_size, config.embed_dim, padding_idx=pad_id)
        self.decoder = LSTM(config.embed_dim, config.hidden_size, batch_first=True)
        self.head = nn.Linear(config.hidden_size, vocab_size)
        self.dropout = nn.Dropout(config.dropout)

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """The decoder's first state (h_0, c_0), each (1, B, H)."""
        _check_images(images, self.in_channels)
        v = self.image(self.dropout(self.encoder(images).flatten(1)))
        return torch.tanh(self.bridge_h(v)).unsqueeze(0), torch.tanh(self.bridge_c(v)).unsqueeze(0)

    def forward(self, images: Tensor, tgt_in: Tensor) -> Tensor:
        output, _ = self.decoder(self.dropout(self.embed(tgt_in)), self.encode(images))
        return self.head(self.dropout(output))

    def init_state(self, memory: Any) -> Any:
        return memory

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        output, state = self.decoder(self.embed(tokens).unsqueeze(1), state)
        return F.log_softmax(self.head(output[:, 0]), dim=-1), state

    def reorder_state(self, state: Any, index: Tensor) -> Any:
        return select(state, index, dim=1)  # (1, B, H)

    def attention_weights(self, images: Tensor, tgt_in: Tensor) -> None:
        return None


class AttentionCaptioner(nn.Module):
    r"""A caption that looks at the image while it is written (Xu et al. 2015, "Show, Attend and Tell", soft
    attention). The CNN's grid gives annotation vectors :math:`a_1, \dots, a_L` (D channels each); per word:

    .. math::
        \alpha_{ti} = \operatorname{softmax}_i\, v^\top \tanh(W_q h_{t-1} + W_a a_i + b), \qquad
        z_t = \sigma(w_\beta^\top h_{t-1} + b_\beta) \sum_i \alpha_{ti} a_i \\
        h_t, c_t = \operatorname{LSTM}([E y_{t-1}; z_t], (h_{t-1}, c_{t-1})), \qquad
        p(y_t \mid y_{<t}, I) = \operatorname{softmax}\bigl(L_o(E y_{t-1} + L_h h_t + L_z z_t)\bigr)

    with :math:`h_0 = \tanh(W_h \bar a)`, :math:`c_0 = \tanh(W_c \bar a)` from the mean annotation :math:`\bar a`.
    The gate σ(·) is the paper's β, which lets the decoder read less of the image for words such as "a" and "of";
    the output layer is its "deep output". The paper's doubly stochastic penalty on α is not used.

    Args:
        image_shape: (C, H, W) of the images; H and W divisible by 2 ** len(config.channels).
        vocab_size: number of word ids (specials included).
        config: sizes and dropout (:class:`CaptionerConfig`; its defaults when omitted).
        pad_id: the padding id (its embedding stays zero).

    Example::

        >>> model = AttentionCaptioner((1, 32, 32), 12, CaptionerConfig(channels=[4, 8], hidden_size=16))
        >>> images, words = torch.zeros(2, 1, 32, 32), torch.randint(3, 12, (2, 5))
        >>> model(images, words).shape, model.attention_weights(images, words).shape  # 8 × 8 = 64 cells
        (torch.Size([2, 5, 12]), torch.Size([2, 5, 64]))
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        vocab_size: int,
        config: CaptionerConfig | None = None,
        *,
        pad_id: int = 0,
    ):
        super().__init__()
        config = config or CaptionerConfig()
        features, hidden = config.channels[-1], config.hidden_size
        self.in_channels = image_shape[0]
        self.encoder = ConvFeatures(image_shape[0], config)
        self.grid = self.encoder.grid(*image_shape[1:])
        self.bridge_h, self.bridge_c = nn.Linear(features, hidden), nn.Linear(features, hidden)
        self.attention = AdditiveAttention(hidden, features, config.attention_size)
        self.gate = nn.Linear(hidden, 1)
        self.embed = nn.Embedding(vocab_size, config.embed_dim, padding_idx=pad_id)
        self.decoder = LSTMCell(config.embed_dim + features, hidden)
        self.out_h = nn.Linear(hidden, config.embed_dim)
        self.out_z = nn.Linear(features, config.embed_dim)
        self.head = nn.Linear(config.embed_dim, vocab_size)
        self.dropout = nn.Dropout(config.dropout)

    def encode(self, images: Tensor) -> dict[str, Tensor]:
        """The annotation vectors (B, L, D), their attention keys, and the first state h, c (B, H)."""
        _check_images(images, self.in_channels)
        annotations = self.dropout(self.encoder(images).flatten(2).transpose(1, 2))  # (B, L, D)
        mean = annotations.mean(dim=1)
        return {
            "annotations": annotations,
            "prepared": self.attention.prepare_keys(annotations),
            "h": torch.tanh(self.bridge_h(mean)),
            "c": torch.tanh(self.bridge_c(mean)),
        }

    def _step(self, embedded: Tensor, h: Tensor, c: Tensor, memory: dict) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One word: logits (B, V), the new state, and the attention weights (B, L)."""
        read, weights = self.attention(h, memory["annotations"], prepared=memory["prepared"])
        z = torch.sigmoid(self.gate(h)) * read
        h, c = self.decoder(torch.cat([embedded, z], dim=-1), (h, c))
        logits = self.head(self.dropout(embedded + self.out_h(h) + self.out_z(z)))
        return logits, h, c, weights

    def _teacher_forced(self, images: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor]:
        memory = self.encode(images)
        h, c = memory["h"], memory["c"]
        logits, weights = [], []
        for embedded in self.dropout(self.embed(tgt_in)).unbind(1):
            step_logits, h, c, step_weights = self._step(embedded, h, c, memory)
            logits.append(step_logits)
            weights.append(step_weights)
        return torch.stack(logits, dim=1), torch.stack(weights, dim=1)

    def forward(self, images: Tensor, tgt_in: Tensor) -> Tensor:
        return self._teacher_forced(images, tgt_in)[0]

    def attention_weights(self, images: Tensor, tgt_in: Tensor) -> Tensor:
        """α (B, T, L): where each of the T words looked, over the L = h·w cells of the grid (row by row)."""
        return self._teacher_forced(images, tgt_in)[1]

    def init_state(self, memory: dict[str, Tensor]) -> dict[str, Tensor]:
        return {**memory}

    def step(self, tokens: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        logits, h, c, _ = self._step(self.embed(tokens), state["h"], state["c"], state)
        return F.log_softmax(logits, dim=-1), {**state, "h": h, "c": c}

    def reorder_state(self, state: dict[str, Tensor], index: Tensor) -> dict[str, Tensor]:
        return select(state, index, dim=0)
