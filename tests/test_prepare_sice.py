"""scripts/data_preparation/prepare_sice.py on a small generated tree of SICE's layout (no SICE copy is available)."""
import os
import re
from os import path as osp

import cv2
import numpy as np
import pytest
from conftest import FullDiskOpen, load_script, run_script

import msiagan.utils.writing

prepare_sice = load_script('prepare_sice')

# exposure name -> grey level; the names are not in order of brightness, as nothing promises that
EXPOSURES = {'1': 60, '2': 20, '3': 200, '4': 100}
SCENE_SIZES = {'Part1': {'1': (60, 40), '2': (90, 60), '3': (45, 30), '4': (60, 40)}, 'Part2': {'1': (75, 50)}}


def write_jpg(path, width, height, level, seed):
    rng = np.random.default_rng(seed)
    img = np.clip(level + rng.integers(-8, 9, (height, width, 3)), 0, 255).astype(np.uint8)
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def sice(tmp_path):
    """Part1 with scenes 1-4 and Part2 with scene 1: <part>/<scene>/<exposure>.JPG and <part>/Label/<scene>.JPG."""
    for part, scenes in SCENE_SIZES.items():
        os.makedirs(tmp_path / part / 'Label')
        for seed, (scene, (width, height)) in enumerate(scenes.items()):
            os.makedirs(tmp_path / part / scene)
            for name, level in EXPOSURES.items():
                write_jpg(tmp_path / part / scene / f'{name}.JPG', width, height, level, seed)
            write_jpg(tmp_path / part / 'Label' / f'{scene}.JPG', width, height, 128, seed)
    return tmp_path


def run(sice, out, *args):
    """prepare_sice on both parts at 24x16, 3 training and 2 test scenes; the one-line error, or None."""
    return run_script(prepare_sice, '--parts', sice / 'Part1', sice / 'Part2', '--out', out, '--size', 24, 16,
                      '--num-train', 3, '--num-test', 2, *args)


def stems(folder):
    return sorted(osp.splitext(name)[0] for name in os.listdir(folder))


def test_darkest_exposure_per_scene_with_a_seeded_scene_split(sice, tmp_path, capsys):
    out = tmp_path / 'SICE'
    assert run(sice, out) is None
    train, test = stems(out / 'train' / 'low'), stems(out / 'test' / 'low')
    assert len(train) == 3 and len(test) == 2 and not set(train) & set(test)
    assert all(re.fullmatch(r'Part[12]-\d_2', stem) for stem in train + test)  # exposure 2 is the darkest
    for split in ('train', 'test'):
        assert stems(out / split / 'high') == stems(out / split / 'low')
    low = cv2.imread(str(out / 'train' / 'low' / f'{train[0]}.png'), cv2.IMREAD_UNCHANGED)
    high = cv2.imread(str(out / 'train' / 'high' / f'{train[0]}.png'), cv2.IMREAD_UNCHANGED)
    assert low.shape == high.shape == (16, 24, 3) and abs(low.mean() - 20) < 2 and abs(high.mean() - 128) < 2
    assert 'train: 3 pairs from 3 scenes (0 with no exposure kept), 24x16' in capsys.readouterr().out

    assert run(sice, out, '--darkest', '2') is not None  # refuses to overwrite
    assert run(sice, out, '--darkest', '2', '--seed', '0', '--force') is None
    assert stems(out / 'train' / 'low') == sorted(f'{stem[:-2]}_{name}' for stem in train for name in ('1', '2'))
    first, second = (out / 'train' / 'high' / f'{train[0][:-2]}_{name}.png' for name in ('1', '2'))
    assert os.stat(first).st_ino == os.stat(second).st_ino  # the reference is stored once per scene

    assert run(sice, out, '--seed', '1', '--force') is None
    assert stems(out / 'test' / 'low') != test


def test_brightness_threshold_and_scenes_left_without_input(sice, tmp_path, capsys):
    out = tmp_path / 'SICE'
    assert run(sice, out, '--max-brightness', 0.3) is None  # 60/255 and 20/255 are under 0.3, 100/255 is not
    assert {stem[-1] for stem in stems(out / 'train' / 'low')} == {'1', '2'}
    assert run(sice, out, '--max-brightness', 0.01, '--force') is None
    assert stems(out / 'train' / 'low') == [] and '(3 with no exposure kept)' in capsys.readouterr().out


@pytest.mark.parametrize('damage, message', [
    (lambda sice: os.remove(sice / 'Part1' / 'Label' / '3.JPG'), r"'3' is in .*Part1 but has no partner in .*Label"),
    (lambda sice: write_jpg(sice / 'Part1' / '3' / '4.JPG', 46, 30, 100, 0),
     r'Part1/3/4.JPG \(46x30\) and its reference .*Part1/Label/3.JPG \(45x30\) differ in size'),
    (lambda sice: (sice / 'Part1' / '2' / '1.JPG').write_bytes(b'\xff\xd8\xff'), r'Part1/2/1.JPG: cannot read'),
])
def test_bad_trees_are_named(sice, tmp_path, damage, message):
    damage(sice)
    error = run(sice, tmp_path / 'SICE', '--num-train', 'all')
    assert error.startswith('prepare_sice.py: error: ') and re.search(message, error), error


def test_more_scenes_than_there_are_is_an_error(sice, tmp_path):
    assert 'there are only 5 scenes' in run(sice, tmp_path / 'SICE', '--num-train', 4)


def test_a_full_disk_leaves_nothing_half_written(sice, tmp_path, monkeypatch):
    out = tmp_path / 'SICE'
    monkeypatch.setattr(msiagan.utils.writing, 'open', FullDiskOpen('.png', after=7), raising=False)
    error = run(sice, out)  # the 3 training pairs are written in full, then the disk is full
    assert error == (f'prepare_sice.py: error: {out}/train and {out}/test: cannot write (no space left on device); '
                     'removed what was written')
    assert os.listdir(out) == []
    monkeypatch.undo()
    assert run(sice, out) is None  # a rerun needs no --force
