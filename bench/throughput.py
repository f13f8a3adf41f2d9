"""Training windows per second of every built-in model, through the Step training uses, and the share of
the device's peak bf16 rate that represents.

    python bench/throughput.py [--protocol paper] [--device cuda] [--models all] [--steps 10] [--json]

The recipe is the protocol's (window side, batch, optimiser, loss) with `precision` and `fused` as
given (default: bf16 and fused, the fast step). Achieved TFLOP/s counts a training window as three
forwards of `ichbench plan`'s FlopCounter count; the peak is the named GPU's dense bf16 rate
(`ichbench.benchmark.plan.PEAK_BF16_TFLOPS`), none on a CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace

import torch

from ichbench.benchmark.plan import PEAK_BF16_TFLOPS
from ichbench.environment import describe_device
from ichbench.inference.infer import precision_for, to_input
from ichbench.models.contract import trainable
from ichbench.models.cost import BACKWARD, forward_gflop
from ichbench.models.registry import build, resolve
from ichbench.protocol import load_protocol
from ichbench.training.step import make_step


def peak_tflops(device: torch.device) -> float | None:
    """The device's peak dense bf16 rate, where ichbench knows its name."""
    name = describe_device(device.type)
    return next((peak for gpu, peak in PEAK_BF16_TFLOPS.items() if gpu in name), None)


def measure(name: str, protocol, device: torch.device, steps: int) -> dict:
    """Median seconds of `steps` training steps after two warm-up ones, as windows/s and TFLOP/s."""
    step = make_step(build(name, protocol), protocol, device, precision_for(protocol.training.precision, device))
    size, batch = protocol.windows.size, protocol.training.batch_size
    x = to_input(torch.randint(0, 256, (batch, protocol.input.count, size, size), dtype=torch.uint8), device)
    y = (torch.rand(batch, 1, size, size, device=device) > 0.9).float()
    step.model.train()
    times = []
    for _ in range(2 + steps):
        before = step.seconds
        step(x, y)
        times.append(step.seconds - before)
    seconds = statistics.median(times[2:])
    gflop = forward_gflop(name, protocol)
    tflops = batch * BACKWARD * gflop / seconds / 1e3
    peak = peak_tflops(device)
    return {
        "model": name,
        "window": size,
        "batch": batch,
        "precision": step.precision,
        "windows_per_s": batch / seconds,
        "gflop_per_window": gflop,
        "tflops": tflops,
        "share_of_peak": tflops / peak if peak else None,
        "device": describe_device(device.type),
    }


def main(argv: list[str]) -> int:
    """Print one line (or JSON object) per learned model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="paper")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", default="all")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--fused", default="true", choices=("true", "false"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    protocol = load_protocol(args.protocol)
    training = replace(protocol.training, precision=args.precision, fused=args.fused == "true")
    protocol = replace(protocol, training=training)
    device = torch.device(args.device)
    for name in resolve(args.models, protocol):
        if not trainable(build(name, protocol)):
            continue
        row = measure(name, protocol, device, args.steps)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            share = f", {100 * row['share_of_peak']:.1f}% of peak bf16" if row["share_of_peak"] else ""
            print(
                f"{name}: {row['windows_per_s']:.1f} windows/s at {row['window']} px, batch {row['batch']}, "
                f"{row['precision']}; {row['tflops']:.2f} TFLOP/s{share}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
