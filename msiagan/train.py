"""Train from a BasicSR options file: ``python msiagan/train.py -opt options/lol_gan.yml`` (or
``msiagan-train``); -h lists the flags, docs/training.md tells more (several processes, resuming, --quiet)."""
import sys
from os import path as osp

if __package__ in (None, ''):  # run as a file: import the package from this checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import msiagan  # noqa: E402  (first: makes basicsr importable, registers everything)
from basicsr.train import train_pipeline  # noqa: E402

from msiagan.utils.entry import project_root, run_cli  # noqa: E402
from msiagan.utils.stop_signals import handle_stop_signals  # noqa: E402


def main():
    quiet = '--quiet' in sys.argv  # ours, not BasicSR's: taken out before BasicSR parses the flags
    if quiet:
        sys.argv.remove('--quiet')
    msiagan.basicsr_patches.install(train=True, quiet=quiet)
    handle_stop_signals()  # SIGTERM, SIGUSR1: save after the current step and exit 75 (docs/training.md)
    run_cli('msiagan-train', lambda: train_pipeline(project_root()), is_train=True)


if __name__ == '__main__':
    main()
