"""``torch.save`` swapped for the length of one call: BasicSR 1.4.2's ``save_network`` and ``save_training_state``
build what they save and end with ``torch.save(obj, final_path)``, which a kill or a full disk leaves cut short
(and a failure they retry three times, then ignore). msiagan.models.atomic_checkpoint runs them unchanged within
``torch_save_as`` to write through its own writer instead.
"""
from contextlib import contextmanager

import torch


@contextmanager
def torch_save_as(save):
    """Within the block ``torch.save`` is ``save(obj, path)``."""
    previous = torch.save
    torch.save = save
    try:
        yield
    finally:
        torch.save = previous
