"""Size, cost and speed of a network: parameters, multiply-accumulates, latency, peak memory."""
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode


def peak_rss_mib():
    """Peak resident memory of this process since it started, MiB (VmHWM; ru_maxrss would include the parent's)."""
    with open('/proc/self/status') as status:
        return next(int(line.split()[1]) for line in status if line.startswith('VmHWM:')) / 1024


def count_parameters(net):
    return sum(p.numel() for p in net.parameters())


def _addmm_flops(self_shape, a_shape, b_shape, *args, **kwargs):
    """FLOPs of out.addmm_(a, b) (msiagan.inference.fast_inference uses it), which FlopCounterMode does not count."""
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


@torch.no_grad()
def count_macs(net, x):
    """Multiply-accumulates of ``net(x)``, by torch.utils.flop_counter."""
    with FlopCounterMode(display=False, custom_mapping={torch.ops.aten.addmm_: _addmm_flops}) as counter:
        net(x)
    return counter.get_total_flops() // 2


def count_gmac(net, height, width, channels=3, device='cpu'):
    """Multiply-accumulates (1e9) of one forward pass on a (1, channels, height, width) input."""
    return count_macs(net, torch.zeros(1, channels, height, width, device=device)) / 1e9


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
