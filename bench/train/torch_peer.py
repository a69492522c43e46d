"""PyTorch peer for bench:train: the same MLP and CNN, the same data (raw float32 images and int32 labels written by
the bench), RMSprop with Keras's defaults (rho 0.9, lr 1e-3), batch 128, a fresh shuffle every epoch.
Prints one JSON line per epoch: {"epoch", "seconds", "cpu", "acc"}."""
import argparse
import json
import time

import numpy as np
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--model", choices=["mlp", "cnn"], required=True)
p.add_argument("--images", required=True)
p.add_argument("--labels", required=True)
p.add_argument("--samples", type=int, required=True)
p.add_argument("--epochs", type=int, required=True)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=128)
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(1)
x = torch.from_numpy(np.fromfile(a.images, dtype=np.float32, count=a.samples * 784).reshape(a.samples, 784))
y = torch.from_numpy(np.fromfile(a.labels, dtype=np.int32, count=a.samples).astype(np.int64))

if a.model == "mlp":
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
else:
    x = x.reshape(a.samples, 1, 28, 28)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10),
    )
# Keras/TF.js RMSprop: decay 0.9, epsilon 1e-7 (PyTorch's alpha defaults to 0.99)
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
loss_fn = nn.CrossEntropyLoss()  # softmax + sparse categorical cross-entropy

for epoch in range(a.epochs):
    model.train()
    start, cpu0 = time.perf_counter(), time.process_time()
    order = torch.randperm(a.samples)
    correct = 0
    for i in range(0, a.samples, a.batch):
        idx = order[i:i + a.batch]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        opt.step()
        correct += (out.argmax(1) == yb).sum().item()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu0
    print(json.dumps({"epoch": epoch, "seconds": seconds, "cpu": cpu, "acc": correct / a.samples}), flush=True)
