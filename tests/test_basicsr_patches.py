"""msiagan.basicsr_patches: every replacement made in one place, and train.py -h listing our flag with BasicSR's."""
import glob
import subprocess
import sys
from os import path as osp

from conftest import REPO


def test_only_install_replaces_basicsr_names():
    callers = [osp.relpath(path, REPO) for path in glob.glob(osp.join(REPO, 'msiagan', '**', '*.py'), recursive=True)
               if 'replace_attribute(' in open(path).read()]
    assert callers == ['msiagan/basicsr_patches/__init__.py']


def test_train_help_lists_basicsr_flags_and_quiet():
    result = subprocess.run([sys.executable, osp.join(REPO, 'msiagan', 'train.py'), '-h'], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert '--auto_resume' in result.stdout and '--quiet' in result.stdout
