"""msiagan.basicsr_patches: BasicSR 1.4.2 patched from outside site-packages, loudly where it does not fit."""
import types

import pytest
from basicsr import train as basicsr_train
from basicsr.utils import options as basicsr_options

from msiagan.basicsr_patches import install, replace_attribute
from msiagan.basicsr_patches.launchers import init_dist
from msiagan.basicsr_patches.resume import ResumableSampler


def test_replacing_what_is_not_there_fails_loudly():
    module = types.ModuleType('basicsr.elsewhere')
    module.present = 1
    replace_attribute(module, 'present', 2)
    assert module.present == 2
    with pytest.raises(ImportError, match='basicsr.elsewhere has no absent: msiagan patches BasicSR 1.4.2'):
        replace_attribute(module, 'absent', 3)


def test_basicsr_entry_points_are_replaced():
    install(train=True)
    assert basicsr_options.init_dist is init_dist
    assert basicsr_train.EnlargedSampler is ResumableSampler
    assert basicsr_train.load_resume_state.__self__.__class__.__name__ == 'ExactResume'
