"""The architectures of the notes, each written from its equations."""

from nnzoo.nn.mlp import ACTIVATIONS, MLP, LinearRegression, make_activation
from nnzoo.nn.recurrent import GRU, LSTM, RNN, GRUCell, Jordan, JordanCell, LSTMCell, RNNCell
from nnzoo.nn.rnn_patterns import EncoderDecoder, ManyToMany, ManyToOne, OneToMany, OneToOne, final_hidden

__all__ = [
    "ACTIVATIONS",
    "GRU",
    "LSTM",
    "MLP",
    "RNN",
    "EncoderDecoder",
    "GRUCell",
    "Jordan",
    "JordanCell",
    "LSTMCell",
    "LinearRegression",
    "ManyToMany",
    "ManyToOne",
    "OneToMany",
    "OneToOne",
    "RNNCell",
    "final_hidden",
    "make_activation",
]
