"""Recurrent layers and cells: equal to torch.nn (outputs, states, every gradient), Jordan by gradcheck, bad input."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nnzoo.nn import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    Jordan,
    JordanCell,
    LSTMCell,
    RNNCell,
    init_forget_gate_,
    set_recurrent_path,
)
from nnzoo.nn import recurrent_kernels as kernels

T, B, I, H = 6, 4, 3, 5
LENGTHS = torch.tensor([6, 3, 1, 5])
KINDS = {  # name -> (ours, torch's, extra arguments)
    "rnn-tanh": (RNN, torch.nn.RNN, {}),
    "rnn-relu": (RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
}
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


def initial_state(kind: str, layers: int, directions: int, dtype, batch: int = B):
    def make():
        return torch.randn(layers * directions, batch, H, dtype=dtype, requires_grad=True)

    return (make(), make()) if kind == "lstm" else make()


def leaves(hx) -> tuple[torch.Tensor, ...]:
    return hx if isinstance(hx, tuple) else (hx,)


def outputs_and_gradients(run, x, hx, parameters):
    """Outputs, final states, and the gradients of a fixed loss w.r.t. input, initial states and parameters."""
    for tensor in (x, *leaves(hx), *parameters):
        tensor.grad = None
    output, h_n = run()
    states = leaves(h_n)
    weights = torch.linspace(-1, 1, output.numel(), dtype=output.dtype).view_as(output)
    loss = (output * weights).sum() + sum((s * s).sum() for s in states)
    loss.backward()
    values = [output, *states, x.grad, *(h.grad for h in leaves(hx)), *(p.grad for p in parameters)]
    return [v.detach().clone() for v in values]


PATHS = ["fast", "reference", "native"]  # our BPTT, the equations under autograd, PyTorch's kernel


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("variable", [False, True], ids=["equal-lengths", "packed"])
@pytest.mark.parametrize(
    ("layers", "bidirectional", "batch_first", "bias"),
    list(itertools.product([1, 2, 3], [False, True], [False, True], [True, False])),
)
@pytest.mark.parametrize("kind", list(KINDS))
def test_layers_equal_torch_nn_in_float64(kind, layers, bidirectional, batch_first, bias, variable, path):
    check_layer(kind, layers, bidirectional, batch_first, bias, variable, path, torch.float64)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("variable", [False, True], ids=["equal-lengths", "packed"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_layers_equal_torch_nn_in_float32(kind, variable, path):
    check_layer(kind, 2, True, True, True, variable, path, torch.float32)


def check_layer(kind, layers, bidirectional, batch_first, bias, variable, path, dtype):
    torch.manual_seed(0)
    ours_cls, torch_cls, extra = KINDS[kind]
    options = {"num_layers": layers, "bidirectional": bidirectional, "batch_first": batch_first, "bias": bias}
    theirs = torch_cls(I, H, **options, **extra).to(dtype)
    ours = ours_cls(I, H, **options, **extra, path=path).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=dtype, requires_grad=True)
    hx = initial_state(kind, layers, 2 if bidirectional else 1, dtype)
    lengths = LENGTHS if variable else None

    def run_theirs():
        if not variable:
            return theirs(x, hx)
        packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        output, h_n = theirs(packed, hx)
        return pad_packed_sequence(output, batch_first=batch_first, total_length=T)[0], h_n

    expected = outputs_and_gradients(run_theirs, x, hx, list(theirs.parameters()))
    got = outputs_and_gradients(lambda: ours(x, hx, lengths=lengths), x, hx, list(ours.parameters()))
    names = ["output", *[f"state {i}" for i in range(len(leaves(hx)))], "d input"]
    names += [f"d h0 {i}" for i in range(len(leaves(hx)))] + [f"d {n}" for n, _ in ours.named_parameters()]
    for name, want, have in zip(names, expected, got):
        assert have.shape == want.shape, name
        assert (have - want).abs().max() <= TOLERANCE[dtype], f"{name}: {(have - want).abs().max():.3g}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_packed_sequence_in_packed_sequence_out(kind):
    torch.manual_seed(1)
    ours_cls, torch_cls, extra = KINDS[kind]
    theirs = torch_cls(I, H, bidirectional=True, **extra).double()
    ours = ours_cls(I, H, bidirectional=True, **extra).double()
    ours.load_state_dict(theirs.state_dict())
    packed = pack_padded_sequence(torch.randn(T, B, I, dtype=torch.double), LENGTHS, enforce_sorted=False)
    (want, want_h), (got, got_h) = theirs(packed), ours(packed)
    assert torch.equal(got.batch_sizes, want.batch_sizes) and torch.equal(got.sorted_indices, want.sorted_indices)
    assert torch.allclose(got.data, want.data, atol=1e-12)
    for a, b in zip(leaves(got_h), leaves(want_h)):
        assert torch.allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_dicts_load_both_ways(kind):
    ours_cls, torch_cls, extra = KINDS[kind]
    options = {"num_layers": 2, "bidirectional": True, **extra}
    ours, theirs = ours_cls(I, H, **options), torch_cls(I, H, **options)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict(), strict=True)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    assert "weight_hh_l1_reverse" in ours.state_dict()


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("path", PATHS)
def test_unbatched_input_equals_torch(kind, path):
    torch.manual_seed(2)
    ours_cls, torch_cls, extra = KINDS[kind]
    theirs = torch_cls(I, H, num_layers=2, **extra).double()
    ours = ours_cls(I, H, num_layers=2, **extra, path=path).double()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(T, I, dtype=torch.double)
    (want, want_h), (got, got_h) = theirs(x), ours(x)
    assert got.shape == (T, H) and torch.allclose(got, want, atol=1e-12)
    for a, b in zip(leaves(got_h), leaves(want_h)):
        assert a.shape == b.shape == (2, H) and torch.allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("kind", [*KINDS, "jordan"])
@pytest.mark.parametrize("path", PATHS)
def test_padded_steps_never_change_anything(kind, path):
    """Changing the input at padded steps changes neither the valid outputs nor the final states."""
    torch.manual_seed(3)
    if kind == "jordan":
        model = Jordan(I, H, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    else:
        ours_cls, _, extra = KINDS[kind]
        model = ours_cls(I, H, num_layers=2, bidirectional=True, batch_first=True, path=path, **extra).double()
    x = torch.randn(B, T, I, dtype=torch.double)
    noisy = x.clone()
    for b, length in enumerate(LENGTHS):
        noisy[b, length:] = 100 * torch.randn(T - length, I, dtype=torch.double)
    (out_a, h_a), (out_b, h_b) = model(x, lengths=LENGTHS), model(noisy, lengths=LENGTHS)
    assert torch.equal(out_a, out_b)
    for a, b in zip(leaves(h_a), leaves(h_b)):
        assert torch.equal(a, b)
    for b, length in enumerate(LENGTHS):
        assert torch.all(out_a[b, length:] == 0)


@pytest.mark.parametrize("kind", list(KINDS))
def test_fast_and_reference_paths_agree_with_dropout_between_layers(kind):
    ours_cls, _, extra = KINDS[kind]
    torch.manual_seed(4)
    fast = ours_cls(I, H, num_layers=3, dropout=0.3, path="fast", **extra).double()
    reference = ours_cls(I, H, num_layers=3, dropout=0.3, path="reference", **extra).double()
    reference.load_state_dict(fast.state_dict())
    x = torch.randn(T, B, I, dtype=torch.double)
    torch.manual_seed(5)
    out_fast, _ = fast(x)
    torch.manual_seed(5)
    out_reference, _ = reference(x)
    assert torch.allclose(out_fast, out_reference, atol=1e-12)
    fast.eval()
    assert torch.equal(fast(x)[0], fast(x)[0])  # no dropout at evaluation


CELLS = {
    "rnn-tanh": (RNNCell, torch.nn.RNNCell, {}),
    "rnn-relu": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (GRUCell, torch.nn.GRUCell, {}),
}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_equal_torch_cells(kind, batched, bias):
    torch.manual_seed(6)
    ours_cls, torch_cls, extra = CELLS[kind]
    theirs = torch_cls(I, H, bias=bias, **extra).double()
    ours = ours_cls(I, H, bias=bias, **extra).double()
    ours.load_state_dict(theirs.state_dict())
    shape = (B,) if batched else ()
    x = torch.randn(*shape, I, dtype=torch.double, requires_grad=True)
    state = torch.randn(*shape, H, dtype=torch.double, requires_grad=True)
    hx = (state, torch.randn(*shape, H, dtype=torch.double, requires_grad=True)) if kind == "lstm" else state

    def run(model):
        for tensor in (x, *leaves(hx), *model.parameters()):
            tensor.grad = None
        out = model(x, hx)
        total = sum((o * o.detach().cos()).sum() for o in leaves(out))
        total.backward()
        return [*(o.detach() for o in leaves(out)), x.grad, *(h.grad for h in leaves(hx))] + [
            p.grad for p in model.parameters()
        ]

    for want, got in zip(run(theirs), run(ours)):
        assert torch.allclose(got, want, atol=1e-12)
    for want, got in zip(leaves(theirs(x)), leaves(ours(x))):  # zero initial state by default
        assert torch.allclose(got, want, atol=1e-12)


def test_jordan_cell_is_its_equation_and_passes_gradcheck():
    torch.manual_seed(7)
    cell = JordanCell(I, H, 2, output_activation="identity").double()
    x, y = torch.randn(B, I, dtype=torch.double), torch.randn(B, 2, dtype=torch.double)
    h = torch.tanh(x @ cell.weight_ih.T + cell.bias_ih + y @ cell.weight_hh.T + cell.bias_hh)
    assert torch.allclose(cell(x, y), h @ cell.weight_hy.T + cell.bias_hy)
    x.requires_grad_(True)
    y.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, y, *p: _call(cell, p, x, y), (x, y, *cell.parameters()))


@pytest.mark.parametrize(("bidirectional", "variable"), [(False, False), (True, True)])
def test_jordan_layer_passes_gradcheck(bidirectional, variable):
    torch.manual_seed(8)
    layer = Jordan(I, 4, 3, num_layers=2, bidirectional=bidirectional, nonlinearity="tanh").double()
    x = torch.randn(T, B, I, dtype=torch.double, requires_grad=True)
    lengths = LENGTHS if variable else None

    def run(x, *params):
        output, y_n = _call(layer, params, x, lengths=lengths)
        return output, y_n

    assert torch.autograd.gradcheck(run, (x, *layer.parameters()))
    output, y_n = layer(x, lengths=lengths)
    directions = 2 if bidirectional else 1
    assert output.shape == (T, B, 3 * directions) and y_n.shape == (2 * directions, B, 3)


def test_jordan_layer_feeds_back_its_output():
    torch.manual_seed(9)
    layer = Jordan(I, H, 2).double()
    cell = JordanCell(I, H, 2).double()
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = torch.randn(T, 1, I, dtype=torch.double)
    output, y_n = layer(x)
    y = torch.zeros(1, 2, dtype=torch.double)
    for t in range(T):
        y = cell(x[t], y)
        assert torch.allclose(output[t], y)
    assert torch.allclose(y_n[0], y)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("name", ["rnn-tanh", "rnn-relu", "lstm", "gru"])
def test_fast_kernels_pass_gradcheck(name, masked):
    """The hand-written BPTT against finite differences, directly (not through torch.nn)."""
    torch.manual_seed(10)
    d = torch.double
    x = torch.randn(4, 3, 2, dtype=d, requires_grad=True)
    h0 = torch.randn(3, 3, dtype=d, requires_grad=True)
    mask = (torch.arange(4).unsqueeze(1) < torch.tensor([4, 2, 3])) if masked else None
    gates = {"rnn-tanh": 1, "rnn-relu": 1, "lstm": 4, "gru": 3}[name]
    w_ih = torch.randn(gates * 3, 2, dtype=d, requires_grad=True)
    w_hh = torch.randn(gates * 3, 3, dtype=d, requires_grad=True)
    b = torch.randn(gates * 3, dtype=d, requires_grad=True)
    if name.startswith("rnn"):
        nonlinearity = name.split("-")[1]
        inputs = (x, h0, w_ih, w_hh, b)
        fn = lambda *a: kernels.rnn_sequence(*a, mask, nonlinearity)  # noqa: E731
    elif name == "lstm":
        inputs = (x, h0, torch.randn(3, 3, dtype=d, requires_grad=True), w_ih, w_hh, b)
        fn = lambda *a: kernels.lstm_sequence(*a, mask)  # noqa: E731
    else:
        inputs = (x, h0, w_ih, w_hh, b, torch.randn(gates * 3, dtype=d, requires_grad=True))
        fn = lambda *a: kernels.gru_sequence(*a, mask)  # noqa: E731
    assert torch.autograd.gradcheck(fn, inputs)


def test_reference_path_supports_double_backward_and_fast_path_says_so():
    torch.manual_seed(11)
    x = torch.randn(T, B, I, dtype=torch.double, requires_grad=True)
    reference = LSTM(I, H, path="reference").double()
    assert torch.autograd.gradgradcheck(lambda x: reference(x)[0], (x,))
    fast = LSTM(I, H, path="fast").double()
    with pytest.raises(RuntimeError, match="first derivatives only; for double backward"):
        torch.autograd.grad(fast(x)[0].sum(), x, create_graph=True)


def test_gate_activity_is_the_cell_run_over_the_sequence():
    torch.manual_seed(12)
    layer = LSTM(I, H)
    x = torch.randn(T, I)
    activity = layer.gate_activity(x)
    assert set(activity) == {"i", "f", "g", "o", "c", "h"} and activity["i"].shape == (T, H)
    output, _ = layer(x)
    assert torch.allclose(activity["h"], output, atol=1e-6)
    # Each step's gates from the equations, with the previous step's h and c (zeros before the first step).
    h_prev = torch.cat([torch.zeros(1, H), activity["h"][:-1]])
    c_prev = torch.cat([torch.zeros(1, H), activity["c"][:-1]])
    with torch.no_grad():
        pre = x @ layer.weight_ih_l0.T + layer.bias_ih_l0 + h_prev @ layer.weight_hh_l0.T + layer.bias_hh_l0
    i, f, g, o = pre.chunk(4, dim=1)  # torch.nn.LSTM's row order
    expected = {"i": torch.sigmoid(i), "f": torch.sigmoid(f), "g": torch.tanh(g), "o": torch.sigmoid(o)}
    for gate, value in expected.items():
        assert torch.allclose(activity[gate], value, atol=1e-6), gate
    assert torch.allclose(activity["c"], expected["f"] * c_prev + expected["i"] * expected["g"], atol=1e-6)


def test_gate_activity_figure(tmp_path):
    from nnzoo.viz import plot_gate_activity

    layer = LSTM(I, H)
    path = plot_gate_activity(layer.gate_activity(torch.randn(T, I)), tmp_path / "gates.png", tokens=list("abcdef"))
    assert path.stat().st_size > 5000
    with pytest.raises(ValueError, match="6 steps"):
        plot_gate_activity(layer.gate_activity(torch.randn(T, I)), tmp_path / "x.png", tokens=["a"])


# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda m: m(torch.randn(T, B)),
            r"expects input of shape \(T, B, 3\) or \(T, 3\) for one sequence, got \(6, 4\)",
        ),
        (lambda m: m(torch.randn(T, B, I + 1)), r"expects input of shape \(T, B, 3\).*got \(6, 4, 4\)"),
        (lambda m: m(torch.randn(T, B, I, 1)), r"expects input of shape"),
        (lambda m: m(torch.randn(0, B, I)), r"empty batch or sequence"),
        (lambda m: m(torch.randn(T, B, I), lengths=torch.tensor([7, 1, 1, 1])), r"lengths must be in \[1, 6\]"),
        (lambda m: m(torch.randn(T, B, I), lengths=torch.tensor([0, 1, 1, 1])), r"lengths must be in \[1, 6\]"),
        (lambda m: m(torch.randn(T, B, I), lengths=torch.tensor([1, 2])), r"lengths must be a 1-D integer tensor"),
        (
            lambda m: m(torch.randn(T, B, I), lengths=torch.tensor([1.0, 2, 3, 4])),
            r"1-D integer tensor of shape \(4,\)",
        ),
        (lambda m: m(torch.randn(T, B, I), torch.zeros(1, B, H)), r"expects h_0 of shape \(2, 4, 5\), got \(1, 4, 5\)"),
        (lambda m: m(torch.randn(T, B, I), torch.zeros(2, B, H + 1)), r"expects h_0 of shape \(2, 4, 5\)"),
        (lambda m: m(torch.randn(T, I), torch.zeros(2, 1, H)), r"expects h_0 of shape \(2, 5\)"),
    ],
)
def test_bad_input_names_the_expected_shape(call, message):
    with pytest.raises(ValueError, match=message):
        call(GRU(I, H, num_layers=2))


def test_bad_lstm_state_and_packed_plus_lengths():
    lstm = LSTM(I, H)
    with pytest.raises(ValueError, match=r"expects hx = \(h_0, c_0\)"):
        lstm(torch.randn(T, B, I), torch.zeros(1, B, H))
    with pytest.raises(ValueError, match=r"expects c_0 of shape \(1, 4, 5\)"):
        lstm(torch.randn(T, B, I), (torch.zeros(1, B, H), torch.zeros(1, B, 2)))
    packed = pack_padded_sequence(torch.randn(T, B, I), LENGTHS, enforce_sorted=False)
    with pytest.raises(ValueError, match="not both"):
        lstm(packed, lengths=LENGTHS)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RNN(0, H), "input_size must be a positive integer, got 0"),
        (lambda: LSTM(I, -1), "hidden_size must be a positive integer"),
        (lambda: GRU(I, H, num_layers=0), "num_layers must be a positive integer"),
        (lambda: GRU(I, H, dropout=1.5), r"dropout must be a number in \[0, 1\]"),
        (lambda: RNN(I, H, nonlinearity="sigmoid"), "nonlinearity must be one of 'tanh', 'relu'"),
        (lambda: LSTM(I, H, path="turbo"), "path must be one of 'auto', 'fast', 'reference', 'native'"),
        (lambda: Jordan(I, H, 0), "output_size must be a positive integer"),
        (lambda: JordanCell(I, H, 2, output_activation="softmax"), "output_activation must be one of"),
        (lambda: LSTMCell(I, H)(torch.randn(B, I + 1)), r"expects input of shape \(B, 3\) or \(3,\)"),
        (lambda: GRUCell(I, H)(torch.randn(B, I), torch.zeros(B + 1, H)), r"expects h of shape \(4, 5\)"),
    ],
)
def test_bad_arguments_are_clear(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="dropout acts between layers"):
        LSTM(I, H, dropout=0.2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", list(KINDS))
def test_fast_path_on_cuda_equals_cpu(kind):
    ours_cls, _, extra = KINDS[kind]
    torch.manual_seed(13)
    cpu = ours_cls(I, H, num_layers=2, bidirectional=True, path="fast", **extra).double()
    gpu = ours_cls(I, H, num_layers=2, bidirectional=True, path="fast", **extra).double().cuda()
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(T, B, I, dtype=torch.double)
    (a, _), (b, _) = cpu(x, lengths=LENGTHS), gpu(x.cuda(), lengths=LENGTHS)
    assert torch.allclose(a, b.cpu(), atol=1e-10)


def _call(module, params, *args, **kwargs):
    names = [name for name, _ in module.named_parameters()]
    return torch.func.functional_call(module, dict(zip(names, params)), args, kwargs)


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_native_path_runs_pytorchs_kernel_on_our_parameters(kind):
    """It learns: the gradients reach our parameters; and PyTorch's template holds no memory and no state."""
    ours_cls, _, extra = KINDS[kind]
    model = ours_cls(I, H, num_layers=2, path="native", **extra)
    output, _ = model(torch.randn(T, B, I))
    output.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    template = model._native_template()
    assert all(p.device.type == "meta" for p in template.parameters())
    assert not any(isinstance(m, torch.nn.RNNBase) for m in model.modules())  # not a submodule: not saved
    with pytest.raises(NotImplementedError, match="Jordan has no native path"):
        Jordan(I, H, 2)._native_template()


def test_auto_runs_the_fastest_path_measured_for_the_input(monkeypatch):
    """On the CPU our BPTT, except PyTorch's fused LSTM on sequences of one length; on a GPU cuDNN; Jordan its own."""
    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    assert [RNN(I, H).path_on(cpu), GRU(I, H).path_on(cpu), LSTM(I, H).path_on(cpu)] == ["fast", "fast", "native"]
    assert LSTM(I, H).path_on(cpu, variable_lengths=True) == "fast"
    layers, devices = (RNN(I, H), LSTM(I, H), GRU(I, H)), (cuda, mps)
    assert {layer.path_on(d, variable) for layer in layers for d in devices for variable in (False, True)} == {"native"}
    assert Jordan(I, H, 2).path_on(cuda) == "reference" and LSTM(I, H, path="fast").path_on(cuda) == "fast"
    # What runs is what path_on says: the LSTM hands its parameters to PyTorch's kernel, unless lengths vary.
    ran = []
    for cls in (LSTM, GRU):
        native = cls._forward_native
        spy = lambda self, *args, run=native: ran.append(type(self)) or run(self, *args)  # noqa: E731
        monkeypatch.setattr(cls, "_forward_native", spy)
    LSTM(I, H)(torch.randn(T, B, I))
    LSTM(I, H)(torch.randn(T, B, I), lengths=LENGTHS)
    GRU(I, H)(torch.randn(T, B, I))
    assert ran == [LSTM]


def test_set_recurrent_path_reaches_every_layer_that_has_the_path():
    model = torch.nn.ModuleDict({"lstm": LSTM(I, H), "gru": GRU(I, H), "jordan": Jordan(I, H, 2)})
    assert set_recurrent_path(model, "fast") is model
    assert [model["lstm"].path, model["gru"].path, model["jordan"].path] == ["fast", "fast", "reference"]
    with pytest.raises(ValueError, match="path must be one of 'auto', 'fast', 'reference', 'native', got 'turbo'"):
        set_recurrent_path(model, "turbo")


def test_init_forget_gate_sets_what_the_cell_sees_and_nothing_else():
    torch.manual_seed(14)
    lstm = LSTM(I, H, num_layers=2, bidirectional=True)
    before = {name: p.clone() for name, p in lstm.named_parameters()}
    init_forget_gate_(lstm, 1.0)
    for suffix in ("_l0", "_l0_reverse", "_l1", "_l1_reverse"):
        total = getattr(lstm, f"bias_ih{suffix}") + getattr(lstm, f"bias_hh{suffix}")
        assert torch.equal(total[H : 2 * H], torch.ones(H))  # the forget gate's b_f = 1
        keep = torch.cat([torch.arange(H), torch.arange(2 * H, 4 * H)])  # i, g, o untouched
        assert torch.equal(total[keep], (before[f"bias_ih{suffix}"] + before[f"bias_hh{suffix}"])[keep])
    assert all(torch.equal(p, before[n]) for n, p in lstm.named_parameters() if n.startswith("weight"))

    cell = LSTMCell(I, 50)
    init_forget_gate_(cell, chrono=100, generator=torch.Generator().manual_seed(0))
    total = cell.bias_ih + cell.bias_hh
    b_f, b_i = total[50:100], total[:50]
    assert torch.equal(b_i, -b_f) and bool(((b_f >= 0) & (b_f <= math.log(99))).all())
    assert b_f.std() > 0.5  # memories spread over time scales, not one value
    with pytest.raises(ValueError, match="no biases"):
        init_forget_gate_(LSTM(I, H, bias=False))
    with pytest.raises(ValueError, match="at least 3"):
        init_forget_gate_(cell, chrono=2)
