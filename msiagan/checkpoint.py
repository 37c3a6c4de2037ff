"""Networks and training states written so that a kill at any moment leaves only whole files under final names."""
import os
from contextlib import contextmanager

import torch

from msiagan.rng import gathered_rng_states, preserved_rng_states

TORCH_SAVE = torch.save  # the real one, whatever torch_save_as does


def atomic_save(obj, path):
    """``torch.save(obj, path)`` through ``path + '.tmp'``: written, flushed to disk, then renamed over ``path``.

    The rename is atomic, so ``path`` is always either the previous file or the complete new one. A failed
    save removes its temporary file and raises; a killed one leaves it (it never has a final name).
    """
    tmp_path = f'{path}.tmp'
    try:
        TORCH_SAVE(obj, tmp_path)
        with open(tmp_path, 'r+b') as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


@contextmanager
def torch_save_as(save):
    """Within the block ``torch.save`` is ``save(obj, path)``.

    BasicSR's ``save_network`` and ``save_training_state`` build what they save and end with
    ``torch.save(obj, final_path)``; this lets our model run them unchanged but write through ``atomic_save``.
    """
    previous = torch.save
    torch.save = save
    try:
        yield
    finally:
        torch.save = previous


class AtomicCheckpointMixin:
    """For a BasicSR model: ``save`` writes networks and training states atomically, and each training state
    also holds ``rng_states``: every process's random generator states (a list indexed by rank) for an exact
    resume (see msiagan.resume). Validation leaves the generators as it found them, so that where the
    states are taken, and how often validation runs, do not change the training.

    BasicSR's ``save`` writes the networks first and the state last; it logs a network that fails to save and
    goes on, so resuming (msiagan.resume) also checks that a state's networks are there.
    """

    def save(self, epoch, current_iter):
        self.rng_states_to_save = gathered_rng_states()  # every process takes part: it is a collective
        super().save(epoch, current_iter)

    def save_network(self, *args, **kwargs):
        with torch_save_as(atomic_save):
            super().save_network(*args, **kwargs)

    def save_training_state(self, epoch, current_iter):

        def save_with_extras(state, path):
            atomic_save(dict(state, **self.training_state_extras()), path)

        with torch_save_as(save_with_extras):
            super().save_training_state(epoch, current_iter)

    def training_state_extras(self):
        """What a training state holds beyond BasicSR's: name -> value (here ``rng_states``; subclasses add)."""
        return {'rng_states': self.rng_states_to_save}

    def validation(self, *args, **kwargs):
        with preserved_rng_states():
            super().validation(*args, **kwargs)
