"""The figures of README.md and docs/ that need LOL-v1 itself. They run only when MSIAGAN_LOL_V1 names a copy
of it (a folder holding eval15/{low,high}, as scripts/data_preparation/prepare_lol.py writes or LOL-v1 comes), and are skipped
otherwise, as in ``make test``:

    MSIAGAN_LOL_V1=datasets/LOL-v1 python -m pytest tests/test_lol_v1_figures.py     # about a minute on 2 cores
"""
import os
import re
from os import path as osp

import cv2
import numpy as np
import pytest
from conftest import REPO, run_entry

LOL_V1 = os.environ.get('MSIAGAN_LOL_V1')
pytestmark = pytest.mark.skipif(not LOL_V1, reason='MSIAGAN_LOL_V1 is not set (a LOL-v1 copy with eval15/)')


def test_test_lol_prints_the_readme_psnr_and_ssim(tmp_path):
    """msiagan/test.py -opt options/test_lol.yml: psnr 21.1597, ssim 0.8094 for the shipped weights on eval15."""
    eval15 = osp.join(osp.abspath(LOL_V1), 'eval15')
    result = run_entry('test', tmp_path, '-opt', osp.join(REPO, 'options', 'test_lol.yml'), '--force_yml',
                       f'datasets:test_1:dataroot_lq={eval15}/low', f'datasets:test_1:dataroot_gt={eval15}/high',
                       f'path:pretrain_network_g={REPO}/msiagan/weights/msiagan_lol_v1.pth', 'val:save_img=false')
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert re.search(r'# psnr: 21\.1597\b', output) and re.search(r'# ssim: 0\.8094\b', output), output[-2000:]


def test_enhance_with_no_other_argument_gives_the_same_figures(tmp_path):
    """msiagan-enhance -i eval15/low -o out (the shipped weights, whole frames): the PSNR and SSIM of
    options/test_lol.yml."""
    from basicsr.metrics import calculate_psnr, calculate_ssim

    eval15 = osp.join(osp.abspath(LOL_V1), 'eval15')
    result = run_entry('enhance', tmp_path, '-i', f'{eval15}/low', '-o', str(tmp_path / 'out'))
    assert result.returncode == 0, result.stderr[-3000:]
    names = sorted(os.listdir(f'{eval15}/high'))
    pairs = [(cv2.imread(str(tmp_path / 'out' / name)), cv2.imread(f'{eval15}/high/{name}')) for name in names]
    assert len(pairs) == 15
    assert f'{np.mean([calculate_psnr(out, gt, 0) for out, gt in pairs]):.4f}' == '21.1597'
    assert f'{np.mean([calculate_ssim(out, gt, 0) for out, gt in pairs]):.4f}' == '0.8094'
