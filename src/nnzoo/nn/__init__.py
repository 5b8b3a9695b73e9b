"""The architectures of the notes, each written from its equations.

Everything a user may build directly is importable from here, with no task and no data::

    from nnzoo.nn import LSTM, MultiheadAttention, Transformer, UNet, UNetConfig

Layers (``RNN``, ``LSTM``, ``MultiheadAttention``, ``TransformerEncoderLayer`` …) take their sizes as arguments and
share ``torch.nn``'s parameter names and layout. Models (``MLP``, ``ConvNet``, ``UNet``, ``GAN``, the language
models, taggers, classifiers, forecasters and encoder–decoders) take their sizes from the data and their
hyper-parameters from the config dataclass beside them (``MLPConfig``, ``UNetConfig`` …), the one place their
defaults are written.
"""

from nnzoo.nn.attention import (
    AdditiveAttention,
    ConcatAttention,
    DotAttention,
    GeneralAttention,
    MultiheadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)
from nnzoo.nn.conv import (
    ConvNet,
    ConvNetConfig,
    ImageClassifier,
    LeNet5,
    LeNet5Config,
    SparseConv2d,
    Subsampling,
    image_mlp,
)
from nnzoo.nn.convolution import (
    AvgPool2d,
    Conv2d,
    ConvTranspose2d,
    MaxPool2d,
    conv2d,
    conv_transpose2d,
    pool2d,
)
from nnzoo.nn.forecasters import (
    NextStepForecaster,
    RecurrentForecasterConfig,
    ScaledForecaster,
    Seq2SeqForecaster,
    TransformerForecaster,
    TransformerForecasterConfig,
    recurrent_forecaster,
)
from nnzoo.nn.gan import GAN, DCGANConfig, Discriminator, Generator
from nnzoo.nn.language_models import (
    RecurrentLanguageModel,
    RecurrentLMConfig,
    TransformerLanguageModel,
    TransformerLMConfig,
)
from nnzoo.nn.mlp import ACTIVATIONS, MLP, LinearRegression, MLPConfig, make_activation
from nnzoo.nn.recurrent import GRU, LSTM, RNN, GRUCell, Jordan, JordanCell, LSTMCell, RNNCell, set_recurrent_path
from nnzoo.nn.rnn_patterns import EncoderDecoder, ManyToMany, ManyToOne, OneToMany, OneToOne, final_hidden
from nnzoo.nn.seq2seq import (
    AttentionSeq2Seq,
    AttentionSeq2SeqConfig,
    ContextSeq2Seq,
    ContextSeq2SeqConfig,
    TransformerSeq2Seq,
    TransformerSeq2SeqConfig,
)
from nnzoo.nn.sequence_models import SequenceModel, SequenceModelConfig
from nnzoo.nn.text_models import (
    ContextFreeTagger,
    ContextFreeTaggerConfig,
    RecurrentClassifier,
    RecurrentClassifierConfig,
    RecurrentEncoder,
    RecurrentTagger,
    RecurrentTaggerConfig,
    SequenceClassifier,
    Tagger,
    TokenTransformerEncoder,
    TransformerClassifier,
    TransformerTagger,
)
from nnzoo.nn.transformer import (
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderConfig,
    TransformerEncoderLayer,
    TransformerSizes,
)
from nnzoo.nn.unet import UNet, UNetConfig

__all__ = [
    "ACTIVATIONS",
    "GAN",
    "GRU",
    "LSTM",
    "MLP",
    "RNN",
    "AdditiveAttention",
    "AttentionSeq2Seq",
    "AttentionSeq2SeqConfig",
    "AvgPool2d",
    "ConcatAttention",
    "ContextFreeTagger",
    "ContextFreeTaggerConfig",
    "ContextSeq2Seq",
    "ContextSeq2SeqConfig",
    "Conv2d",
    "ConvNet",
    "ConvNetConfig",
    "ConvTranspose2d",
    "DCGANConfig",
    "Discriminator",
    "DotAttention",
    "EncoderDecoder",
    "GRUCell",
    "GeneralAttention",
    "Generator",
    "ImageClassifier",
    "Jordan",
    "JordanCell",
    "LSTMCell",
    "LeNet5",
    "LeNet5Config",
    "LearnedPositionalEncoding",
    "LinearRegression",
    "MLPConfig",
    "ManyToMany",
    "ManyToOne",
    "MaxPool2d",
    "MultiheadAttention",
    "NextStepForecaster",
    "OneToMany",
    "OneToOne",
    "RNNCell",
    "RecurrentClassifier",
    "RecurrentClassifierConfig",
    "RecurrentEncoder",
    "RecurrentForecasterConfig",
    "RecurrentLMConfig",
    "RecurrentLanguageModel",
    "RecurrentTagger",
    "RecurrentTaggerConfig",
    "ScaledForecaster",
    "Seq2SeqForecaster",
    "SequenceClassifier",
    "SequenceModel",
    "SequenceModelConfig",
    "SinusoidalPositionalEncoding",
    "SparseConv2d",
    "Subsampling",
    "Tagger",
    "TokenTransformerEncoder",
    "Transformer",
    "TransformerClassifier",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderConfig",
    "TransformerEncoderLayer",
    "TransformerForecaster",
    "TransformerForecasterConfig",
    "TransformerLMConfig",
    "TransformerLanguageModel",
    "TransformerSeq2Seq",
    "TransformerSeq2SeqConfig",
    "TransformerSizes",
    "TransformerTagger",
    "UNet",
    "UNetConfig",
    "causal_mask",
    "conv2d",
    "conv_transpose2d",
    "final_hidden",
    "image_mlp",
    "make_activation",
    "padding_mask",
    "pool2d",
    "recurrent_forecaster",
    "scaled_dot_product_attention",
    "set_recurrent_path",
]
