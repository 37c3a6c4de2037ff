"""Data loader workers that outlive a stop signal, so that the training process can finish its step and save.

Slurm signals every process of a job step and ``timeout`` or ``kill -- -PGID`` a whole process group, workers
included; a worker ended so (PyTorch's workers die of a SIGTERM not sent by their parent, and SIGUSR1 kills by
default) makes the training process fail at its next batch, before it saves. msiagan.basicsr_patches.install
replaces BasicSR's worker initialisation by this one.
"""
from basicsr import data as basicsr_data

from msiagan.utils.stop_signals import ignore_stop_signals

BASICSR_WORKER_INIT_FN = basicsr_data.worker_init_fn


def worker_init_fn_ignoring_stop_signals(worker_id, num_workers, rank, seed):
    """BasicSR's ``worker_init_fn`` (the worker's seeds), then stop signals ignored: the training process stops
    the workers itself when it has saved (and they end with it if it is killed)."""
    BASICSR_WORKER_INIT_FN(worker_id, num_workers, rank, seed)
    ignore_stop_signals()
