"""BasicSR's own commands run ours: ``python -m basicsr.train`` (or BasicSR's ``basicsr/train.py`` run as a script)
trains as msiagan/train.py does, ``basicsr.test`` / ``basicsr/test.py`` tests as msiagan/test.py does.

BasicSR's train.py runs as ``__main__``, so what is replaced in the module ``basicsr.train`` does not reach it; what
it calls first, ``basicsr.utils.options.parse_options``, is replaced (at ``import msiagan``) by
``parse_options_handing_over``: called from the ``train_pipeline`` or ``test_pipeline`` of a ``basicsr/train.py`` or
``basicsr/test.py`` that runs as ``__main__``, it runs msiagan's entry point instead (its root folder, flags and
fixes) and exits; called from anywhere else (msiagan's own pipeline, another BasicSR project's train.py, a script),
it is BasicSR's.
"""
import sys
from os import path as osp

from basicsr.utils import options as basicsr_options

BASICSR_PARSE_OPTIONS = basicsr_options.parse_options
PIPELINES = {'train_pipeline': 'train', 'test_pipeline': 'test'}  # BasicSR's function -> msiagan's entry point


def basicsr_entry_point(frame):
    """'train' or 'test' when ``frame`` is the ``train_pipeline`` or ``test_pipeline`` of BasicSR's own train.py or
    test.py running as ``__main__`` (``python -m basicsr.train``, ``python basicsr/train.py``); else None."""
    main = sys.modules.get('__main__')
    entry = PIPELINES.get(frame.f_code.co_name)
    if main is None or entry is None or frame.f_globals is not vars(main):
        return None
    file = osp.abspath(vars(main).get('__file__') or '')
    is_basicsr_script = osp.basename(file) == f'{entry}.py' and osp.basename(osp.dirname(file)) == 'basicsr'
    return entry if is_basicsr_script else None


def parse_options_handing_over(root_path, is_train=True):
    """BasicSR's ``parse_options``; called by BasicSR's own entry point, msiagan's entry point runs instead (in the
    folder msiagan/train.py uses, not ``root_path``: for a pip-installed BasicSR that is site-packages) and the
    process exits with its status."""
    entry = basicsr_entry_point(sys._getframe(1))
    if entry is None or (entry == 'train') != bool(is_train):
        return BASICSR_PARSE_OPTIONS(root_path, is_train)
    if entry == 'train':
        from msiagan.train import main
    else:
        from msiagan.test import main
    main()
    sys.exit(0)
