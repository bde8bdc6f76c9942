"""Benchmark: fairat's PGD-20 against an independent PGD-20 loop on the same model, data, batch.

Prints the time of each, their ratio (fairat / reference) and both robust accuracies. The
reference is a textbook L-inf PGD loop written here without any fairat attack code (uniform
random start, signed-gradient steps of eps/4, projection onto the eps-ball and [0, 1]); the two
use different random starts, so their accuracies agree only up to sampling noise.

    .venv/bin/python benchmarks/pgd_speed.py [--model cnn_small] [--eps 16/255] [--batch 512]

Runs on a briefly trained digits model (CPU by default; ``--device cuda`` on a GPU machine).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from fairat.attacks import pgd
from fairat.config.eps import parse_eps
from fairat.config.runs import RunConfig, TrainConfig
from fairat.data import prepare, to_float
from fairat.training.loop import train
from fairat.training.network import build_model


def reference_pgd(model, x, y, eps, steps, generator):
    """Independent PGD: x + U(-eps, eps), then ``steps`` steps of eps/4 on the CE sign."""
    delta = (torch.rand(x.shape, generator=generator, device=x.device) * 2 - 1) * eps
    x_adv = (x + delta).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y)
        grad = torch.autograd.grad(loss, x_adv)[0]
        x_adv = x_adv.detach() + eps / 4 * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
    return x_adv.detach()


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="cnn_small")
    ap.add_argument("--eps", default="16/255")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    eps = parse_eps(args.eps)
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare("digits", Path(tmp) / "raw", {}, 0.1, 0, Path(tmp) / "digits.npz")
        run = RunConfig(
            dataset="digits",
            model=args.model,
            method="pgd_at",
            eps=eps,
            seed=0,
            method_params={"steps": 3},
            device=args.device,
            train=TrainConfig(epochs=3, batch_size=64, lr=0.05),
        )
        train(run, data, Path(tmp) / "run", Path(tmp) / "resume", progress=False)
        model = build_model(run, data).to(device)
        model.load_state_dict(torch.load(Path(tmp) / "run" / "last.pt", weights_only=True)["model"])
    model.eval()
    x = to_float(torch.from_numpy(data.x_test[: args.batch])).to(device)
    y = torch.from_numpy(data.y_test[: args.batch]).to(device)

    def ours():
        return pgd(model, x, y, eps=eps, steps=20, generator=torch.Generator(device).manual_seed(0))

    def theirs():
        return reference_pgd(model, x, y, eps, 20, torch.Generator(device).manual_seed(0))

    timed(ours, 1), timed(theirs, 1)  # warm-up
    t_ours, x_ours = timed(ours, args.repeats)
    t_ref, x_ref = timed(theirs, args.repeats)
    with torch.no_grad():
        acc_ours = (model(x_ours).argmax(1) == y).float().mean().item()
        acc_ref = (model(x_ref).argmax(1) == y).float().mean().item()
    print(
        f"model {args.model}, eps {args.eps}, batch {len(x)}, device {device}, best of {args.repeats}"
    )
    print(f"fairat PGD-20:    {t_ours * 1000:8.1f} ms  robust accuracy {acc_ours:.4f}")
    print(f"reference PGD-20: {t_ref * 1000:8.1f} ms  robust accuracy {acc_ref:.4f}")
    print(f"time ratio fairat / reference: {t_ours / t_ref:.3f}")


if __name__ == "__main__":
    main()
