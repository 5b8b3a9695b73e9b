r"""The fast path of the recurrent layers: the forward loop and back-propagation through time, written out.

Autograd differentiates the reference loop step by step, which costs three matrix products per step in the
backward pass (the gradient of :math:`h_{t-1}`, of :math:`W_{hh}` and of :math:`x_t`), two of them with only B
rows. Written out by hand, BPTT needs just one product per step, for :math:`\partial L/\partial h_{t-1}`. The
gradients of the weights and of the input are sums over time, so they become a few large, efficient products once
the loop is done:

.. math::
    \frac{\partial L}{\partial W_{hh}} = \sum_t \delta_t^\top h_{t-1} = \Delta^\top H_{prev}, \qquad
    \frac{\partial L}{\partial W_{ih}} = \Delta^\top X, \qquad
    \frac{\partial L}{\partial X} = \Delta\, W_{ih}

where :math:`\delta_t` is the gradient of step t's pre-activations and :math:`\Delta` stacks them over time.
The input projection :math:`X W_{ih}^\top + b` of every step is likewise one product before the forward loop.
The derivative factors (e.g. :math:`\sigma'(a) = \sigma(a)(1-\sigma(a))`) are computed inside the backward loop,
one step at a time, while that step's tensors are in cache: computed for the whole sequence at once, every factor
would be another pass over a (T, B, H) tensor, and those passes are limited by memory bandwidth, not arithmetic.
Products that two gates share are computed once, and the gradient arriving from the output, :math:`\bar y_{t-1}`,
is added by the same ``addmm`` that computes :math:`\delta_t W_{hh}`.

Variable lengths use a mask :math:`m_t \in \{0, 1\}` per sequence: the layer computes a candidate state
:math:`\tilde h_t`, keeps it where :math:`m_t = 1` and keeps :math:`h_{t-1}` where :math:`m_t = 0`; the output is
:math:`y_t = m_t \tilde h_t`. Differentiating :math:`h_t = h_{t-1} + m_t(\tilde h_t - h_{t-1})` gives the masked
recursions below, which reduce to the plain ones when :math:`m_t = 1`.

Every function takes time-major tensors: x (T, B, I), states (B, H), mask (T, B) boolean or None. These
functions compute first derivatives only: a backward pass with ``create_graph=True`` (double backward, gradient
penalties) raises an error instead of silently dropping second-order terms; use the layers' ``path="reference"``.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor
from torch.autograd import Function

AUTOCAST_DEVICES = ("cuda", "cpu", "mps")


def _fp32_forward(forward):
    """Under autocast (``train.precision`` bf16 or fp16), the kernels still compute in float32, on every device: the
    hand-written backward multiplies saved tensors with the weights, and their dtypes must agree."""
    for device_type in AUTOCAST_DEVICES:
        forward = torch.amp.custom_fwd(device_type=device_type, cast_inputs=torch.float32)(forward)
    return forward


def _fp32_backward(backward):
    """The backward pass runs with the autocast state its forward pass had (off, by :func:`_fp32_forward`)."""
    for device_type in AUTOCAST_DEVICES:
        backward = torch.amp.custom_bwd(device_type=device_type)(backward)
    return backward


def _first_order_only(backward):
    """Refuse ``create_graph=True``: autograd runs a backward pass in grad mode exactly when it is asked to build
    a graph of the gradient, which these hand-written gradients cannot provide."""

    @functools.wraps(backward)
    def checked(ctx, *grads):
        if torch.is_grad_enabled():
            raise RuntimeError(
                "nnzoo's fast recurrent path computes first derivatives only; for double backward "
                "(create_graph=True) build the layer with path='reference'"
            )
        return backward(ctx, *grads)

    return checked


def _input_projection(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """All steps' :math:`W_{ih} x_t + b` at once: (T, B, I) -> (T, B, G·H), as one matrix product."""
    T, B, _ = x.shape
    flat = x.reshape(T * B, -1)
    out = flat @ w_ih.t() if bias is None else torch.addmm(bias, flat, w_ih.t())
    return out.view(T, B, -1)


def _weight_gradients(delta: Tensor, x: Tensor, h_prev: Tensor, w_ih: Tensor, needs: tuple[bool, ...]):
    """dX, dW_ih, dW_hh, db from the stacked pre-activation gradients Δ (T, B, G·H)."""
    T, B, G = delta.shape
    flat = delta.view(T * B, G)
    dx = (flat @ w_ih).view_as(x) if needs[0] else None
    dw_ih = flat.t() @ x.reshape(T * B, -1) if needs[1] else None
    dw_hh = flat.t() @ h_prev.reshape(T * B, -1) if needs[2] else None
    db = flat.sum(0) if needs[3] else None
    return dx, dw_ih, dw_hh, db


# ----------------------------------------------------------------------------------------------------------------
# Elman RNN
# ----------------------------------------------------------------------------------------------------------------


class _RNNSequence(Function):
    r"""Forward: :math:`\tilde h_t = \phi(a_t)`, :math:`a_t = x_t W_{ih}^\top + b + h_{t-1} W_{hh}^\top`.

    Backward, with :math:`\bar h` the gradient arriving at :math:`h_t` and :math:`\bar y_t` at the output:

    .. math::
        \delta_t = m_t (\bar h + \bar y_t) \odot \phi'(\tilde h_t), \qquad
        \bar h \leftarrow (1 - m_t)\,\bar h + \delta_t W_{hh}

    with :math:`\phi' = 1 - \tilde h^2` for tanh and :math:`[\tilde h > 0]` for ReLU.
    """

    @staticmethod
    @_fp32_forward
    def forward(ctx, x, h0, w_ih, w_hh, bias, mask, relu: bool):
        T = x.shape[0]
        candidates = _input_projection(x, w_ih, bias)  # becomes h̃_t in place
        # Without a mask the candidates are the states: h_{t-1} is candidates[t-1], no copy needed.
        states = None if mask is None else x.new_empty(T + 1, *h0.shape)
        previous = h0
        w_hh_t = w_hh.t()
        activate = torch.relu_ if relu else torch.tanh_
        for t in range(T):
            h_tilde = activate(candidates[t].addmm_(previous, w_hh_t))
            if mask is None:
                previous = h_tilde
            else:
                previous = torch.where(mask[t].unsqueeze(1), h_tilde, previous, out=states[t + 1])
        output = candidates if mask is None else candidates * mask.unsqueeze(2)
        ctx.relu = relu
        h_prev = (
            torch.cat([h0.unsqueeze(0), candidates[:-1]])
            if mask is None
            else torch.cat([h0.unsqueeze(0), states[1:-1]])
        )
        ctx.save_for_backward(x, w_ih, w_hh, candidates, h_prev, mask)
        return output, previous.clone()

    @staticmethod
    @_first_order_only
    @_fp32_backward
    def backward(ctx, d_output, d_hn):
        x, w_ih, w_hh, candidates, h_prev, mask = ctx.saved_tensors
        T = x.shape[0]
        delta = torch.empty_like(candidates)
        dh = d_hn  # gradient at h_t from later steps
        total = dh + d_output[T - 1]  # ... plus the one from y_t
        for t in range(T - 1, -1, -1):
            h_tilde = candidates[t]
            if mask is not None:
                total = total * mask[t].unsqueeze(1)
            if ctx.relu:
                torch.mul(total, h_tilde > 0, out=delta[t])
            else:  # total (1 - h̃²)
                torch.addcmul(total, total * h_tilde, h_tilde, value=-1, out=delta[t])
            if mask is None:
                dh = delta[t] @ w_hh if t == 0 else None
                total = torch.addmm(d_output[t - 1], delta[t], w_hh) if t > 0 else dh
            else:
                dh = torch.where(mask[t].unsqueeze(1), delta[t] @ w_hh, dh)  # δ_t = 0 where padded
                total = dh + d_output[t - 1] if t > 0 else dh
        needs = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db = _weight_gradients(delta, x, h_prev, w_ih, (needs[0], needs[2], needs[3], needs[4]))
        return dx, dh, dw_ih, dw_hh, db, None, None


def rnn_sequence(x, h0, w_ih, w_hh, bias, mask, nonlinearity: str):
    """Elman RNN over a sequence: output (T, B, H) and h_n (B, H)."""
    return _RNNSequence.apply(x, h0, w_ih, w_hh, bias, mask, nonlinearity == "relu")


# ----------------------------------------------------------------------------------------------------------------
# LSTM
# ----------------------------------------------------------------------------------------------------------------


class _LSTMSequence(Function):
    r"""Forward as in :func:`nnzoo.nn.recurrent.lstm_step`, with candidates :math:`\tilde c_t, \tilde h_t`.

    Backward, with :math:`\bar h, \bar c` the gradients arriving at :math:`h_t, c_t`:

    .. math::
        \bar{\tilde h} &= m_t(\bar h + \bar y_t), \qquad
        \bar{\tilde c} = m_t \bar c + \bar{\tilde h} \odot o_t \odot (1 - \tanh^2 \tilde c_t) \\
        \delta_t &= \big[\bar{\tilde c} \odot g_t \odot i_t(1-i_t),\;
                       \bar{\tilde c} \odot c_{t-1} \odot f_t(1-f_t),\;
                       \bar{\tilde c} \odot i_t \odot (1-g_t^2),\;
                       \bar{\tilde h} \odot \tanh\tilde c_t \odot o_t(1-o_t)\big] \\
        \bar h &\leftarrow (1 - m_t)\bar h + \delta_t W_{hh}, \qquad
        \bar c \leftarrow (1 - m_t)\bar c + \bar{\tilde c} \odot f_t
    """

    @staticmethod
    @_fp32_forward
    def forward(ctx, x, h0, c0, w_ih, w_hh, bias, mask):
        T, B, _ = x.shape
        H = h0.shape[1]
        gates = _input_projection(x, w_ih, bias)  # becomes (i, f, g, o) in place
        h = x.new_empty(T + 1, B, H)
        c = x.new_empty(T + 1, B, H)
        h[0], c[0] = h0, c0
        # Without a mask the candidates are the states; with one they need their own storage.
        c_tilde = c[1:] if mask is None else torch.empty_like(c[1:])
        h_tilde = h[1:] if mask is None else torch.empty_like(h[1:])
        tanh_c = x.new_empty(T, B, H)  # tanh(c̃_t), needed again by the backward pass
        w_hh_t = w_hh.t()
        for t in range(T):
            a = gates[t].addmm_(h[t], w_hh_t)
            a[:, : 2 * H].sigmoid_()
            a[:, 2 * H : 3 * H].tanh_()
            a[:, 3 * H :].sigmoid_()
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            torch.mul(f, c[t], out=c_tilde[t]).addcmul_(i, g)
            torch.mul(o, torch.tanh(c_tilde[t], out=tanh_c[t]), out=h_tilde[t])
            if mask is not None:
                keep = mask[t].unsqueeze(1)
                torch.where(keep, c_tilde[t], c[t], out=c[t + 1])
                torch.where(keep, h_tilde[t], h[t], out=h[t + 1])
        output = h_tilde if mask is None else h_tilde * mask.unsqueeze(2)
        ctx.save_for_backward(x, w_ih, w_hh, gates, h, c, tanh_c, mask)
        return output, h[T].clone(), c[T].clone()

    @staticmethod
    @_first_order_only
    @_fp32_backward
    def backward(ctx, d_output, d_hn, d_cn):
        x, w_ih, w_hh, gates, h, c, tanh_c, mask = ctx.saved_tensors
        T, _, H = d_output.shape
        delta = torch.empty_like(gates)
        dh, dc = d_hn, d_cn  # gradients at h_t, c_t from later steps
        total = dh + d_output[T - 1]  # h̄ + ȳ_t
        for t in range(T - 1, -1, -1):
            a, tc, d = gates[t], tanh_c[t], delta[t]
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            dc_in = dc
            if mask is not None:
                keep = mask[t].unsqueeze(1)
                total, dc_in = total * keep, dc * keep
            t1 = total * o
            t2 = t1 * tc  # total ⊙ o ⊙ tanh c̃, shared by δo and the path into c̃
            dc_tilde = (dc_in + t1).addcmul_(t2, tc, value=-1)  # c̄ + total ⊙ o ⊙ (1 - tanh² c̃)
            torch.addcmul(t2, t2, o, value=-1, out=d[:, 3 * H :])  # δo = total ⊙ tanh c̃ ⊙ o(1 - o)
            p = dc_tilde * i
            q = p * g  # c̃̄ ⊙ i ⊙ g, shared by δi and δg
            torch.addcmul(q, q, i, value=-1, out=d[:, :H])  # δi = c̃̄ ⊙ g ⊙ i(1 - i)
            torch.addcmul(p, q, g, value=-1, out=d[:, 2 * H : 3 * H])  # δg = c̃̄ ⊙ i ⊙ (1 - g²)
            w = dc_tilde * c[t] * f
            torch.addcmul(w, w, f, value=-1, out=d[:, H : 2 * H])  # δf = c̃̄ ⊙ c_{t-1} ⊙ f(1 - f)
            back_c = dc_tilde * f
            if mask is None:
                dc = back_c
                dh = d @ w_hh if t == 0 else None
                total = torch.addmm(d_output[t - 1], d, w_hh) if t > 0 else dh
            else:  # δ_t = 0 where padded: the gradients pass through unchanged
                dh, dc = torch.where(keep, d @ w_hh, dh), torch.where(keep, back_c, dc)
                total = dh + d_output[t - 1] if t > 0 else dh
        needs = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db = _weight_gradients(delta, x, h[:-1], w_ih, (needs[0], needs[3], needs[4], needs[5]))
        return dx, dh, dc, dw_ih, dw_hh, db, None


def lstm_sequence(x, h0, c0, w_ih, w_hh, bias, mask):
    """LSTM over a sequence: output (T, B, H), h_n and c_n (B, H)."""
    return _LSTMSequence.apply(x, h0, c0, w_ih, w_hh, bias, mask)


# ----------------------------------------------------------------------------------------------------------------
# GRU
# ----------------------------------------------------------------------------------------------------------------


class _GRUSequence(Function):
    r"""Forward as in :func:`nnzoo.nn.recurrent.gru_step`; :math:`\eta_t = W_{hn} h_{t-1} + b_{hn}` is kept.

    Backward, with :math:`\bar h` the gradient arriving at :math:`h_t`:

    .. math::
        \bar{\tilde h} &= m_t(\bar h + \bar y_t) \\
        \delta^n_t &= \bar{\tilde h} \odot (1 - z_t)(1 - n_t^2), \quad
        \delta^r_t = \delta^n_t \odot \eta_t \odot r_t(1 - r_t), \quad
        \delta^z_t = \bar{\tilde h} \odot (h_{t-1} - n_t) \odot z_t(1 - z_t) \\
        \bar h &\leftarrow (1 - m_t)\bar h + \bar{\tilde h} \odot z_t
                 + [\delta^r_t, \delta^z_t, r_t \odot \delta^n_t] W_{hh}

    The input side's pre-activation gradient is :math:`[\delta^r_t, \delta^z_t, \delta^n_t]`; the recurrent side's
    has :math:`r_t \odot \delta^n_t` in the n block, because r multiplies only :math:`\eta_t`.
    """

    @staticmethod
    @_fp32_forward
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, mask):
        T, B, _ = x.shape
        H = h0.shape[1]
        gates = _input_projection(x, w_ih, b_ih)  # becomes (r, z, n) in place
        recurrent = x.new_empty(T, B, 3 * H)  # W_hh h_{t-1} + b_hh
        eta = recurrent[..., 2 * H :]
        h = x.new_empty(T + 1, B, H)
        h[0] = h0
        h_tilde = h[1:] if mask is None else torch.empty_like(h[1:])
        w_hh_t = w_hh.t()
        for t in range(T):
            if b_hh is None:
                torch.mm(h[t], w_hh_t, out=recurrent[t])
            else:
                torch.addmm(b_hh, h[t], w_hh_t, out=recurrent[t])
            a = gates[t]
            rz = a[:, : 2 * H].add_(recurrent[t, :, : 2 * H]).sigmoid_()
            n = a[:, 2 * H :].addcmul_(rz[:, :H], eta[t]).tanh_()
            torch.lerp(n, h[t], rz[:, H:], out=h_tilde[t])  # n + z (h_{t-1} - n)
            if mask is not None:
                torch.where(mask[t].unsqueeze(1), h_tilde[t], h[t], out=h[t + 1])
        output = h_tilde if mask is None else h_tilde * mask.unsqueeze(2)
        ctx.save_for_backward(x, w_ih, w_hh, gates, eta, h, mask)
        ctx.has_bias = b_ih is not None
        return output, h[T].clone()

    @staticmethod
    @_first_order_only
    @_fp32_backward
    def backward(ctx, d_output, d_hn):
        x, w_ih, w_hh, gates, eta, h, mask = ctx.saved_tensors
        T, B, H = d_output.shape
        delta_h = torch.empty_like(gates)  # recurrent side [δr, δz, r ⊙ δn]
        delta_n = x.new_empty(T, B, H)  # input side's n block δn
        dh = d_hn
        total = dh + d_output[T - 1]  # h̄ + ȳ_t
        for t in range(T - 1, -1, -1):
            a, d = gates[t], delta_h[t]
            r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
            if mask is not None:
                total = total * mask[t].unsqueeze(1)
            u = torch.addcmul(total, total, z, value=-1)  # total ⊙ (1 - z)
            torch.addcmul(u, u * n, n, value=-1, out=delta_n[t])  # δn = total ⊙ (1 - z)(1 - n²)
            v = delta_n[t] * eta[t] * r
            torch.addcmul(v, v, r, value=-1, out=d[:, :H])  # δr = δn ⊙ η ⊙ r(1 - r)
            w = total * (h[t] - n) * z
            torch.addcmul(w, w, z, value=-1, out=d[:, H : 2 * H])  # δz = total ⊙ (h_{t-1} - n) ⊙ z(1 - z)
            torch.mul(delta_n[t], r, out=d[:, 2 * H :])
            if mask is None:
                through_z = total * z if t == 0 else torch.addcmul(d_output[t - 1], total, z)
                total = torch.addmm(through_z, d, w_hh)
                dh = total if t == 0 else None
            else:  # δ_t = 0 where padded: the gradient passes through unchanged
                dh = torch.where(mask[t].unsqueeze(1), torch.addmm(total * z, d, w_hh), dh)
                total = dh + d_output[t - 1] if t > 0 else dh
        needs = ctx.needs_input_grad
        flat_h, flat_n = delta_h.view(T * B, 3 * H), delta_n.view(T * B, H)
        flat_x = x.reshape(T * B, -1)
        dx = dw_ih = dw_hh = db_ih = db_hh = None
        if needs[0]:
            dx = (flat_h[:, : 2 * H] @ w_ih[: 2 * H] + flat_n @ w_ih[2 * H :]).view_as(x)
        if needs[2]:
            dw_ih = torch.cat([flat_h[:, : 2 * H].t() @ flat_x, flat_n.t() @ flat_x])
        if needs[3]:
            dw_hh = flat_h.t() @ h[:-1].reshape(T * B, H)
        if needs[4]:
            db_ih = torch.cat([flat_h[:, : 2 * H].sum(0), flat_n.sum(0)])
        if needs[5]:
            db_hh = flat_h.sum(0)
        return dx, dh, dw_ih, dw_hh, db_ih, db_hh, None


def gru_sequence(x, h0, w_ih, w_hh, b_ih, b_hh, mask):
    """GRU over a sequence: output (T, B, H) and h_n (B, H)."""
    return _GRUSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh, mask)
