"""scripts/data_preparation/prepare_lol.py on a generated tree of LOL-v1's layout."""
import os
import re
import shutil
from os import path as osp

import cv2
import numpy as np
import pytest
from conftest import FullDiskOpen, load_script, no_space_error, run_script, write_pairs

prepare_lol = load_script('prepare_lol')
make_lol_split = load_script('make_lol_split')


@pytest.fixture
def lol(tmp_path):
    """A LOL-v1 look-alike: our485 with .png inputs and .jpg references, eval15 all .png."""
    src = tmp_path / 'lol_v1'
    write_pairs(str(src / 'our485'), ['2', '10', '100'], gt_ext='.jpg')
    write_pairs(str(src / 'eval15'), ['1', '22'], seed=1)
    (src / 'README.md').write_text('not an image\n')
    return src


def test_copies_checked_pairs_and_reports(lol, tmp_path, capsys):
    out = tmp_path / 'LOL-v1'
    assert run_script(prepare_lol, '--src', lol, '--out', out) is None
    assert sorted(os.listdir(out / 'our485' / 'low')) == ['10.png', '100.png', '2.png']
    assert sorted(os.listdir(out / 'our485' / 'high')) == ['10.jpg', '100.jpg', '2.jpg']
    assert sorted(os.listdir(out / 'eval15' / 'high')) == ['1.png', '22.png']
    assert not osp.islink(out / 'eval15' / 'high' / '1.png')
    assert (out / 'our485' / 'high' / '2.jpg').read_bytes() == (lol / 'our485' / 'high' / '2.jpg').read_bytes()
    printed = capsys.readouterr().out
    assert '3 pairs; 3 x 48x40 8-bit; inputs .png, references .jpg' in printed
    assert '2 pairs; 2 x 48x40 8-bit; inputs .png, references .png' in printed


def test_link_and_refusal_to_overwrite(lol, tmp_path):
    out = tmp_path / 'LOL-v1'
    assert run_script(prepare_lol, '--src', lol, '--out', out, '--link') is None
    assert os.readlink(out / 'our485' / 'low' / '2.png') == str(lol / 'our485' / 'low' / '2.png')
    assert 'already exists: pass --force' in run_script(prepare_lol, '--src', lol, '--out', out)
    assert run_script(prepare_lol, '--src', lol, '--out', out, '--force') is None
    assert not osp.islink(out / 'our485' / 'low' / '2.png')


def test_output_inside_the_source_is_refused(lol):
    assert 'overlap' in run_script(prepare_lol, '--src', lol, '--out', lol / 'prepared')


@pytest.mark.parametrize('damage, message', [
    (lambda src: os.remove(src / 'eval15' / 'high' / '22.png'), "'22' is in .*eval15/low but has no partner"),
    (lambda src: (src / 'our485' / 'low' / '10.png').write_bytes(b'\x89PNG\r\n'), r'our485/low/10.png: cannot read'),
    (lambda src: cv2.imwrite(str(src / 'our485' / 'low' / '2.png'), np.zeros((40, 48), np.uint8)),
     r'our485/low/2.png: 1 channels, LOL-v1 images have 3'),
    (lambda src: cv2.imwrite(str(src / 'eval15' / 'low' / '1.png'), np.zeros((40, 40, 3), np.uint8)),
     r'eval15/low/1.png and .*eval15/high/1.png differ in size'),
])
def test_bad_pairs_stop_before_anything_is_written(lol, tmp_path, damage, message):
    damage(lol)
    out = tmp_path / 'LOL-v1'
    error = run_script(prepare_lol, '--src', lol, '--out', out)
    assert error.startswith('prepare_lol.py: error: ') and len(error.splitlines()) == 1
    assert re.search(message, error), error
    assert not out.exists()


def test_validation_split_is_seeded_and_written_to_a_new_folder(tmp_path):
    stems = [str(i) for i in range(1, 13)]
    _, gt = write_pairs(str(tmp_path / 'our485'), stems, size=(8, 8))
    splits = []
    for out in ('a/meta_info', 'b'):
        assert run_script(make_lol_split, '--gt', gt, '--num-val', 3, '--seed', 0, '--out', tmp_path / out) is None
        splits.append([open(tmp_path / out / f'lol_v1_{name}.txt').read().split() for name in ('train', 'val')])
    train, val = splits[0]
    assert splits[1] == splits[0] and len(val) == 3 and sorted(train + val, key=int) == stems
    assert train == sorted(train) and val == sorted(val)
    assert '--num-val 12: must be between 1 and 11' in run_script(make_lol_split, '--gt', gt, '--num-val', 12)
    again = ('--gt', gt, '--num-val', 3, '--out', tmp_path / 'b')
    assert run_script(make_lol_split, *again, '--seed', 0) is None  # the same split: nothing to protect
    assert 'lol_v1_train.txt already exists with another split: pass --force' in run_script(
        make_lol_split, *again, '--seed', 1)
    assert open(tmp_path / 'b' / 'lol_v1_val.txt').read().split() == val
    assert run_script(make_lol_split, *again, '--seed', 1, '--force') is None
    assert open(tmp_path / 'b' / 'lol_v1_val.txt').read().split() != val


def test_a_full_disk_leaves_nothing_half_written(lol, tmp_path, monkeypatch):
    out = tmp_path / 'LOL-v1'
    copy = shutil.copyfile
    copied = []

    def copy_until_the_disk_is_full(source, target):
        if len(copied) == 7:  # of 10 files: our485 is complete, eval15 not
            with open(source, 'rb') as f, open(target, 'wb') as cut_short:
                cut_short.write(f.read()[:100])
            raise no_space_error(source, target)  # shutil's names the file copied and the target
        copied.append(target)
        return copy(source, target)

    monkeypatch.setattr(shutil, 'copyfile', copy_until_the_disk_is_full)
    error = run_script(prepare_lol, '--src', lol, '--out', out)
    assert error == (f'prepare_lol.py: error: {out}/eval15: cannot write (no space left on device); '
                     'removed what was written')
    assert os.listdir(out) == []
    monkeypatch.undo()
    assert run_script(prepare_lol, '--src', lol, '--out', out) is None  # a rerun needs no --force
    assert sorted(os.listdir(out)) == ['eval15', 'our485']


def test_a_split_that_cannot_be_written_leaves_the_old_one(tmp_path, monkeypatch):
    _, gt = write_pairs(str(tmp_path / 'our485'), [str(i) for i in range(1, 13)], size=(8, 8))
    args = ('--gt', gt, '--num-val', 3, '--out', tmp_path / 'meta_info')
    assert run_script(make_lol_split, *args, '--seed', 0) is None
    before = {name: (tmp_path / 'meta_info' / name).read_text() for name in os.listdir(tmp_path / 'meta_info')}
    monkeypatch.setattr(make_lol_split, 'open', FullDiskOpen('lol_v1_val'), raising=False)
    error = run_script(make_lol_split, *args, '--seed', 1, '--force')
    assert re.fullmatch(r'make_lol_split\.py: error: \S+/lol_v1_train\.txt and \S+/lol_v1_val\.txt: cannot write \(no '
                        r'space left on device\); removed what was written', error), error
    assert make_lol_split.open.failed  # the train file was written in full first
    assert {name: (tmp_path / 'meta_info' / name).read_text() for name in os.listdir(tmp_path / 'meta_info')} == before
