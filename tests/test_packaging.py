"""The installed package, not the source checkout: a wheel built offline holds the shipped weights and their
options, and msiagan-enhance installed from it enhances a photo from any folder."""
import os
import subprocess
import sys
import zipfile
from os import path as osp

import cv2
import numpy as np
import pytest
from conftest import REPO

SHIPPED = ('msiagan/weights/msiagan_lol_v1.pth', 'msiagan/weights/msiagan_lol_v1.yml')


@pytest.fixture(scope='module')
def wheel(msiagan_wheel):
    return msiagan_wheel


def test_the_wheel_holds_the_shipped_weights_and_their_options(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert set(SHIPPED) <= names
        for name in SHIPPED:
            with open(osp.join(REPO, name), 'rb') as f:
                assert archive.read(name) == f.read(), name


def test_enhance_installed_from_the_wheel_works_from_any_folder(wheel, tmp_path):
    site = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', '--target', str(site),
                    str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    cv2.imwrite(str(elsewhere / 'photo.png'), np.random.default_rng(0).integers(0, 60, (24, 32, 3), np.uint8))
    env = {**os.environ, 'PYTHONPATH': str(site)}  # the installed copy, not this checkout
    run = subprocess.run([sys.executable, '-c', 'import msiagan, sys; from msiagan.enhance import main; '
                          'print(msiagan.__file__); sys.argv[0] = "msiagan-enhance"; main()',
                          '-i', 'photo.png', '-o', 'out'], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(str(site))
    assert cv2.imread(str(elsewhere / 'out' / 'photo.png')).shape == (24, 32, 3)
