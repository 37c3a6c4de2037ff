"""Size, cost and speed of a network: parameters, multiply-accumulates, latency."""
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(net):
    return sum(p.numel() for p in net.parameters())


@torch.no_grad()
def count_gmac(net, height, width, channels=3):
    """Multiply-accumulates (1e9) of one forward pass on a (1, channels, height, width) input."""
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, channels, height, width, device=next(net.parameters()).device))
    return counter.get_total_flops() / 2e9


@torch.no_grad()
def measure_latency(run, x, repeats=5, warmup=1):
    """(min, median, max) seconds of ``run(x)`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        run(x)
    times = []
    for _ in range(repeats):
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        run(x)
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), max(times)
