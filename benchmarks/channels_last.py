"""Time image models in NCHW and in channels_last on this machine's CPU, in one run.

    .venv/bin/python benchmarks/channels_last.py [--threads 1] [--repeats 7]

For each case (model, input shape, batch, pass) it prints the least time per call of each memory
format over interleaved repeats and their ratio (channels_last / NCHW: below 1 means
channels_last is faster). ``train`` is a forward and backward pass with gradients for the input
and the weights, in train mode, as in adversarial training; ``attack`` is the same in eval mode
(an attack step on a fixed model); ``forward`` is a gradient-free eval forward (Square's
queries, clean accuracy). The first cases are the default config's (``cnn_small`` width 16 on
8x8 digits, batch 64 for training, AutoAttack's 30 images); the others are CIFAR-shaped.
"""

from __future__ import annotations

import argparse
import time

import torch

from fairat.models import create_model

CASES = [
    # model, model args, input shape, batch, pass
    ("cnn_small", {"width": 16}, (1, 8, 8), 64, "train"),
    ("cnn_small", {"width": 16}, (1, 8, 8), 30, "attack"),
    ("cnn_small", {"width": 16}, (1, 8, 8), 30, "forward"),
    ("cnn_small", {"width": 16}, (1, 8, 8), 360, "attack"),
    ("cnn_small", {"width": 8}, (3, 32, 32), 32, "train"),
    ("cnn_small", {"width": 32}, (3, 32, 32), 64, "train"),
    ("resnet20", {}, (3, 32, 32), 32, "train"),
]
FORMATS = {"NCHW": torch.contiguous_format, "channels_last": torch.channels_last}


def make_call(name, args, shape, batch, kind, fmt):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, input_shape=shape, mean=[0.5], std=[0.25], **args)
    model = model.to(memory_format=fmt).train(kind == "train")
    x = torch.rand(batch, *shape).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))

    def grad_pass():
        xx = x.clone().requires_grad_(True)
        torch.nn.functional.cross_entropy(model(xx), y).backward()

    def forward():
        with torch.no_grad():
            model(x)

    return forward if kind == "forward" else grad_pass


def seconds(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (jobs use 1)")
    ap.add_argument("--repeats", type=int, default=7, help="interleaved repeats per format")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), least of {args.repeats} repeats")
    print("| model | input | batch | pass | NCHW ms | channels_last ms | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, margs, shape, batch, kind in CASES:
        calls = {f: make_call(name, margs, shape, batch, kind, fmt) for f, fmt in FORMATS.items()}
        # calls per repeat: about 0.2 s of work each
        n = max(1, int(0.2 / max(seconds(calls["NCHW"], 2), 1e-5)))
        best = {f: float("inf") for f in FORMATS}
        for _ in range(args.repeats):
            for f, fn in calls.items():
                best[f] = min(best[f], seconds(fn, n))
        label = f"{name} " + ",".join(f"{k}={v}" for k, v in margs.items())
        print(
            f"| {label.strip()} | {'x'.join(map(str, shape))} | {batch} | {kind} "
            f"| {best['NCHW'] * 1e3:.3f} | {best['channels_last'] * 1e3:.3f} "
            f"| {best['channels_last'] / best['NCHW']:.2f} |"
        )


if __name__ == "__main__":
    main()
