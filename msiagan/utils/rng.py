"""Saving and restoring the random generators of a process (Python, NumPy, torch CPU and CUDA)."""
import random
from contextlib import contextmanager

import numpy as np
import torch
import torch.distributed as dist


def rng_states():
    """This process's random generator states (Python, NumPy, torch CPU and CUDA), as types that
    ``torch.load(weights_only=True)`` accepts."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    return {
        'python': random.getstate(),
        'numpy': [kind, keys.tolist(), position, has_gauss, cached_gaussian],
        'torch': torch.get_rng_state(),
        'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
    }


def set_rng_states(states):
    """Set this process's random generators to ``states`` from ``rng_states``. CUDA ones are set only where
    as many GPUs are visible as when they were taken."""
    version, internal_state, gauss_next = states['python']
    random.setstate((version, tuple(internal_state), gauss_next))
    kind, keys, position, has_gauss, cached_gaussian = states['numpy']
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))
    torch.set_rng_state(states['torch'])
    if states['cuda'] and torch.cuda.is_available() and len(states['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states['cuda'])


def gathered_rng_states():
    """Every process's ``rng_states()``, a list indexed by rank (a collective in a distributed run)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [rng_states()]
    states = [None] * dist.get_world_size()
    dist.all_gather_object(states, rng_states())
    return states


@contextmanager
def preserved_rng_states():
    """Within the block the random generators may be used; afterwards they are as before it."""
    states = rng_states()
    try:
        yield
    finally:
        set_rng_states(states)
