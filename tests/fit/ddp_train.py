"""Train one MLP with the trainer (DDP under torchrun, or one process); save its weights: `ddp_train.py OUT`."""

import sys

import torch
from safetensors.torch import save_file
from torch import nn

from probewise import distributed as dist
from probewise.fit.trainer import TrainConfig, train

info = dist.init()
g = torch.Generator().manual_seed(0)
X = torch.randn(700, 16, generator=g)
y = (X[:, :3].sum(1) + 0.3 * torch.randn(700, generator=g) > 0).long()
model = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 1))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(0.2 * torch.randn(p.shape, generator=g))
rows = [0]  # training rows this rank's forward passes saw


def count(module, args):
    if module.training:
        rows[0] += args[0].shape[0]


model.register_forward_pre_hook(count)
# 97 rows per batch: ranks get 49 and 48 rows, and the last batch of an epoch is smaller still
config = TrainConfig(lr=3e-3, epochs=12, batch_size=97, patience=None, seed=0, ddp=sys.argv[2:] != ["--no-ddp"])
result = train(model, (X[:600],), y[:600], (X[600:],), y[600:], config)
seen = dist.all_gather(rows[0])
if info.is_main:
    meta = {"best_epoch": str(result.best_epoch[0]), "world": str(info.world_size),
            "rows_per_rank": ",".join(map(str, seen)), "first_val_loss": str(result.val_history[0][0]),
            "best_val_loss": str(result.best_val_loss[0])}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, sys.argv[1], metadata=meta)
dist.shutdown()
