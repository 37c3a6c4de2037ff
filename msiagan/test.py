"""Test from a BasicSR options file: ``python msiagan/test.py -opt options/test_lol.yml`` (or ``msiagan-test``)."""
import sys
from os import path as osp

if __package__ in (None, ''):  # run as a file: import the package from this checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import msiagan  # noqa: E402,F401  (first: makes basicsr importable, registers everything)
from basicsr.test import test_pipeline  # noqa: E402

from msiagan.utils.distributed import use_cpu_capable_init_dist  # noqa: E402
from msiagan.utils.entry import project_root, run_cli  # noqa: E402
from msiagan.utils.options_file import use_safe_options_parsing  # noqa: E402
from msiagan.utils.run_files import install_run_file_checks  # noqa: E402


def main():
    use_cpu_capable_init_dist()
    use_safe_options_parsing()
    install_run_file_checks()
    run_cli('msiagan-test', lambda: test_pipeline(project_root()), is_train=False)


if __name__ == '__main__':
    main()
