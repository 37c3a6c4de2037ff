"""Test from a BasicSR options file: ``python msiagan/test.py -opt options/test_lol.yml`` (or
``msiagan-test``); -h lists the flags."""
import sys
from os import path as osp

if __package__ in (None, ''):  # run as a file: import the package from this checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import msiagan  # noqa: E402  (first: makes basicsr importable, registers everything)
from basicsr.test import test_pipeline  # noqa: E402

from msiagan.utils.entry import project_root, run_cli  # noqa: E402


def main():
    msiagan.basicsr_patches.install(train=False)
    run_cli('msiagan-test', lambda: test_pipeline(project_root()), is_train=False)


if __name__ == '__main__':
    main()
