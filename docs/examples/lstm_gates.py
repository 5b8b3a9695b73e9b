"""Gate activity of an LSTM that learned to remember the first value of a sequence (docs/images/lstm-gates.png).

    python docs/examples/lstm_gates.py        # about 5 s on 2 CPU cores

The task: read 12 random numbers, output the first. The figure shows units whose input gate opens at step 0,
whose forget gate then stays near 1 and whose memory cell keeps its value to the end.
"""

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from nnzoo.nn import LSTM, ManyToOne
from nnzoo.viz import plot_gate_activity

torch.manual_seed(6)
model = ManyToOne(LSTM(1, 32, batch_first=True), nn.Linear(32, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for step in range(400):  # sequences of 3 to 12 steps: the short ones make the task easy to discover
    generator = torch.Generator().manual_seed(step)
    x, lengths = torch.randn(64, 12, 1, generator=generator), torch.randint(3, 13, (64,), generator=generator)
    loss = F.mse_loss(model(x, lengths).squeeze(-1), x[:, 0, 0])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
with torch.no_grad():  # mean squared error on 1,000 new sequences of the full 12 steps
    test = torch.randn(1000, 12, 1, generator=torch.Generator().manual_seed(-1))
    test_mse = F.mse_loss(model(test).squeeze(-1), test[:, 0, 0]).item()

sequence = torch.randn(12, 1, generator=torch.Generator().manual_seed(12345))
with torch.no_grad():
    prediction = model(sequence.unsqueeze(0)).item()
activity = model.layer.gate_activity(sequence)
# Show the 12 units whose memory cell tracks the first value most closely at the last step.
order = (activity["c"][-1] * sequence[0, 0]).argsort(descending=True)[:12]
activity = {k: v[:, order] for k, v in activity.items()}
tokens = [f"{v:+.1f}" for v in sequence[:, 0].tolist()]
out = Path(__file__).resolve().parents[1] / "images" / "lstm-gates.png"
title = (
    f"An LSTM remembering the first of 12 values ({sequence[0, 0]:+.2f}): it answers {prediction:+.2f}\n"
    f"(test MSE {test_mse:.4f}; 12 units whose memory cell tracks the first value)"
)
print(f"test MSE {test_mse:.4f}; figure {plot_gate_activity(activity, out, tokens=tokens, units=12, title=title)}")
