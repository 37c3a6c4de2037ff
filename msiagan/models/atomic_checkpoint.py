"""Networks and training states written so that a kill at any moment leaves only whole files under final names,
and a checkpoint that cannot be written stops the training."""
import torch

from msiagan.basicsr_patches.resume import latest_training_state
from msiagan.basicsr_patches.torch_save import torch_save_as
from msiagan.utils.distributed import flagged_on_any_process
from msiagan.utils.errors import OutputError
from msiagan.utils.rng import gathered_rng_states, preserved_rng_states
from msiagan.utils.writing import atomic_save, write_failure


class AtomicCheckpointMixin:
    """For a BasicSR model: ``save`` writes networks and training states atomically, and each training state
    also holds ``rng_states``: every process's random generator states (a list indexed by rank) for an exact
    resume (see msiagan.basicsr_patches.resume). Validation leaves the generators as it found them, so that where the
    states are taken, and how often validation runs, do not change the training.

    A file of a checkpoint that cannot be written (no space, no permission, a vanished folder) stops the
    training, in every process, with an OutputError naming it and the cause, and nothing more of that
    checkpoint is written: BasicSR's ``save`` writes the networks first and the state last, so the newest
    state on disk is still a complete one to resume from. (BasicSR itself would retry three times, log
    'Just ignore it.' and go on without the checkpoint.)
    """

    def save(self, epoch, current_iter):
        self.rng_states_to_save = gathered_rng_states()  # every process takes part: it is a collective
        self.failed_write = None  # (path, error) of the file of this checkpoint that could not be written
        super().save(epoch, current_iter)
        self.stop_unless_saved(current_iter)

    def save_network(self, *args, **kwargs):
        with torch_save_as(self.write_checkpoint_file):
            super().save_network(*args, **kwargs)

    def save_training_state(self, epoch, current_iter):

        def save_with_extras(state, path):
            self.write_checkpoint_file(dict(state, **self.training_state_extras()), path)

        with torch_save_as(save_with_extras):
            super().save_training_state(epoch, current_iter)

    def training_state_extras(self):
        """What a training state holds beyond BasicSR's: name -> value (here ``rng_states``; subclasses add)."""
        return {'rng_states': self.rng_states_to_save}

    def write_checkpoint_file(self, obj, path):
        """``atomic_save(obj, path)`` unless a file of this checkpoint failed already. A failure is kept in
        ``failed_write``, not raised: BasicSR would retry it and go on."""
        if self.failed_write is None:
            try:
                atomic_save(obj, path)
            except Exception as error:
                self.failed_write = (path, error)

    def stop_unless_saved(self, current_iter):
        """Raise OutputError in every process if a file of the checkpoint just saved could not be written."""
        failed = self.failed_write is not None
        if not flagged_on_any_process(torch.tensor([failed], device=self.device)).item():
            return
        problem = str(write_failure(*self.failed_write)) if failed else 'process 0 could not write a checkpoint'
        stopped = ('training ended without its final weights' if current_iter == -1 else
                   f'training stopped at iteration {current_iter}')
        if latest_training_state(self.opt['path']['training_states'], self.opt) is None:
            raise OutputError(f'{problem}; {stopped}, and no training state was saved before: a rerun starts from '
                              'the beginning')
        raise OutputError(f'{problem}; {stopped}, the states saved before are intact: --auto_resume continues from '
                          'the last one')

    def validation(self, *args, **kwargs):
        with preserved_rng_states():
            super().validation(*args, **kwargs)
