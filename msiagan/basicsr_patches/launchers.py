"""``--launcher pytorch`` (torchrun) and ``--launcher slurm`` (srun) on GPUs and on CPU-only machines.

BasicSR 1.4.2's ``init_dist``, which its option parser calls, calls ``torch.cuda.set_device`` and defaults to NCCL.
Ours (put in its place by msiagan.basicsr_patches.install) uses gloo where there is no GPU.
"""
import os
import subprocess

import torch
import torch.distributed as dist

from msiagan.utils.errors import InputError

DEFAULT_MASTER_PORT = 29500  # torch.distributed's


def slurm_environment(port=None, environ=os.environ):
    """The ``env://`` variables torch.distributed reads, from those of a Slurm task started by srun.

    MASTER_ADDR is the first node of the job, MASTER_PORT ``port``, else $MASTER_PORT, else 29500.
    Returns a dict of str: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK.
    """
    missing = [name for name in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'SLURM_NODELIST')
               if name not in environ]
    if missing:
        raise InputError(f'--launcher slurm: ${missing[0]} is not set (start the processes with srun)')
    hosts = subprocess.run(['scontrol', 'show', 'hostnames', environ['SLURM_NODELIST']], capture_output=True,
                           text=True, check=True).stdout.split()
    return {
        'MASTER_ADDR': hosts[0],
        'MASTER_PORT': str(port or environ.get('MASTER_PORT', DEFAULT_MASTER_PORT)),
        'WORLD_SIZE': environ['SLURM_NTASKS'],
        'RANK': environ['SLURM_PROCID'],
        'LOCAL_RANK': environ['SLURM_LOCALID'],
    }


def init_dist(launcher, backend=None, port=None):
    """Join the process group of a torchrun (``launcher='pytorch'``) or srun (``'slurm'``) job.

    Args:
        launcher (str): 'pytorch' (torchrun set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_*) or 'slurm'.
        backend (str | None): None: 'nccl' where CUDA is available (each process on GPU $LOCAL_RANK modulo
            the GPUs it sees, for schedulers that give each process its own), else 'gloo'. With --launcher
            slurm it can be set by ``dist_params: backend`` in the options file.
        port (int | None): Master port for --launcher slurm (``dist_params: port``).
    """
    if launcher == 'slurm':
        os.environ.update(slurm_environment(port))
    backend = backend or ('nccl' if torch.cuda.is_available() else 'gloo')
    if backend == 'nccl':
        if torch.cuda.device_count() == 0:
            raise InputError('dist_params: backend nccl needs CUDA GPUs and this process sees none: use gloo, or '
                             'leave backend unset')
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count())
    dist.init_process_group(backend=backend)
