"""Train from a BasicSR options file: ``python msiagan/train.py -opt options/lol_gan.yml`` (or ``msiagan-train``).

BasicSR's flags all work: --auto_resume, --force_yml, --launcher, --debug, --local_rank.
"""
import os
import re
import sys
from os import path as osp

if __package__ in (None, ''):  # run as a file: import the package from this checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import msiagan  # noqa: E402,F401  (first: makes basicsr importable, registers everything)
import torch  # noqa: E402
from basicsr import train as basicsr_train  # noqa: E402
from basicsr.utils import check_resume  # noqa: E402

from msiagan.entry import project_root, run_cli  # noqa: E402
from msiagan.errors import InputError  # noqa: E402


def latest_training_state(states_dir):
    """Path of the newest ``<iter>.state`` in ``states_dir`` that loads, or None."""
    if not osp.isdir(states_dir):
        return None
    iters = sorted((int(m.group(1)) for m in map(re.compile(r'(\d+)\.state$').fullmatch, os.listdir(states_dir))
                    if m), reverse=True)
    for current_iter in iters:
        path = osp.join(states_dir, f'{current_iter}.state')
        try:
            torch.load(path, map_location='cpu', weights_only=True)
        except Exception:  # a state cut short by a kill: fall back to the one before
            continue
        return path
    return None


def load_resume_state(opt):
    """BasicSR's ``load_resume_state``, fixed to work on machines without CUDA and from any directory.

    BasicSR 1.4.2 maps the state to ``torch.cuda.current_device()`` (fails without CUDA) and looks for
    --auto_resume states under ./experiments relative to the working directory. This one loads to the CPU
    (optimizers move their state to their parameters' device) and looks in the experiment's own folder.
    """
    if opt['auto_resume']:
        latest = latest_training_state(opt['path']['training_states'])
        if latest:
            opt['path']['resume_state'] = latest
    path = opt['path'].get('resume_state')
    if not path:
        return None
    if not osp.isfile(path):
        raise InputError(f'path: resume_state {path} does not exist')
    state = torch.load(path, map_location='cpu', weights_only=True)
    check_resume(opt, state['iter'])
    return state


def main():
    basicsr_train.load_resume_state = load_resume_state
    run_cli('msiagan-train', lambda: basicsr_train.train_pipeline(project_root()), is_train=True)


if __name__ == '__main__':
    main()
