"""scripts/data_preparation/make_demo_data.py: the demo's paired low-light data, made from scikit-image's photos."""
import os

import cv2
from conftest import FullDiskOpen, load_script, run_script

import msiagan.utils.writing

make_demo_data = load_script('make_demo_data')


def test_writes_seeded_pairs_whose_low_image_is_darker(tmp_path, capsys):
    args = ('--size', 48, 32, '--variants', 2, '--exposure', 0.05, 0.1)
    assert run_script(make_demo_data, '--out', tmp_path / 'a', *args) is None
    assert 'demo data: 10 training and 2 validation pairs' in capsys.readouterr().out
    for split, count in (('train', 10), ('val', 2)):
        names = sorted(p.name for p in (tmp_path / 'a' / split / 'high').iterdir())
        assert len(names) == count and names == sorted(p.name for p in (tmp_path / 'a' / split / 'low').iterdir())
        for name in names:
            high = cv2.imread(str(tmp_path / 'a' / split / 'high' / name))
            low = cv2.imread(str(tmp_path / 'a' / split / 'low' / name))
            assert high.shape == low.shape == (32, 48, 3)
            assert low.mean() < 0.6 * high.mean()
    assert run_script(make_demo_data, '--out', tmp_path / 'b', *args) is None
    low = 'train/low/astronaut_1.png'
    assert (cv2.imread(str(tmp_path / 'a' / low)) == cv2.imread(str(tmp_path / 'b' / low))).all()  # seeded


def test_bad_options_are_named(tmp_path):
    out = ('--out', tmp_path)
    assert '--variants 0: must be at least 1' in run_script(make_demo_data, *out, '--variants', 0)
    assert '--size 8 32: width and height must be at least 16' in run_script(make_demo_data, *out, '--size', 8, 32)
    assert '--exposure 0.2 0.1: need 0 < MIN <= MAX <= 1' in run_script(make_demo_data, *out, '--exposure', 0.2, 0.1)


def test_a_full_disk_leaves_the_data_that_was_there(tmp_path, monkeypatch):
    args = ('--out', tmp_path, '--size', 32, 16, '--variants', 1)
    assert run_script(make_demo_data, *args) is None
    before = {name: (tmp_path / name).read_bytes() for name in ('train/low/rocket_0.png', 'val/high/coffee.png')}
    monkeypatch.setattr(msiagan.utils.writing, 'open', FullDiskOpen('coffee'), raising=False)
    error = run_script(make_demo_data, *args, '--seed', 1)
    assert error == (f'make_demo_data.py: error: {tmp_path}/train and {tmp_path}/val: cannot write (no space left on '
                     'device); removed what was written')
    assert sorted(os.listdir(tmp_path)) == ['train', 'val']
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
