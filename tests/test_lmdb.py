"""scripts/data_preparation/create_lmdb.py and io_backend: lmdb, which must give exactly the pixels of the disk backend."""
import os
import random
import re

import cv2
import lmdb
import numpy as np
import pytest
import torch
from basicsr.utils.lmdb_util import LmdbMaker
from conftest import REPO, load_script, make_dataset, run_script, write_pairs

import msiagan.utils.writing

from msiagan.basicsr_patches.options_file import parse_options_text
from msiagan.utils.errors import InputError

create_lmdb = load_script('create_lmdb')


@pytest.fixture
def mixed(tmp_path):
    """Pairs in every layout the decoding rule covers: 8-bit JPEG, 16-bit RGB, grayscale (8/16-bit), RGBA."""
    lq_dir, gt_dir = write_pairs(str(tmp_path / 'data'), ['rgb8'], gt_ext='.jpg')
    rng = np.random.default_rng(2)
    layouts = {'rgb16': ((40, 48, 3), np.uint16), 'gray8': ((40, 48), np.uint8), 'gray16': ((40, 48), np.uint16),
               'rgba8': ((40, 48, 4), np.uint8)}
    for stem, (shape, dtype) in layouts.items():
        for folder in (lq_dir, gt_dir):
            img = rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
            assert cv2.imwrite(os.path.join(folder, stem + '.png'), img)
    return lq_dir, gt_dir


@pytest.mark.parametrize('store', ['original', 'png'])
def test_lmdb_gives_the_pixels_of_the_disk_backend(mixed, capsys, store):
    lq_dir, gt_dir = mixed
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir, '--store', store) is None
    assert '100%' in capsys.readouterr().err  # the progress bar
    with lmdb.open(gt_dir + '.lmdb', readonly=True, lock=False) as env, env.begin() as txn:
        stored_jpeg = txn.get(b'rgb8')
    assert (stored_jpeg == open(os.path.join(gt_dir, 'rgb8.jpg'), 'rb').read()) == (store == 'original')
    meta_info = open(lq_dir + '.lmdb/meta_info.txt').read().splitlines()
    assert meta_info == ['gray16.png (40,48,1) 1', 'gray8.png (40,48,1) 1', 'rgb16.png (40,48,3) 1',
                         'rgb8.png (40,48,3) 1', 'rgba8.png (40,48,4) 1']
    disk = make_dataset(lq_dir, gt_dir, backend='disk')
    packed = make_dataset(lq_dir + '.lmdb', gt_dir + '.lmdb', backend='lmdb')
    assert [pair['key'] for pair in packed.pairs] == [pair['key'] for pair in disk.pairs]
    for index in range(len(disk)):
        for role in ('lq', 'gt'):
            assert torch.equal(disk[index][role], packed[index][role]), (disk.pairs[index], role)
    assert torch.equal(disk[1]['lq'][0], disk[1]['lq'][2])  # grayscale repeated into three channels


def test_training_crops_agree_across_backends(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a', 'b'], size=(40, 32))
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir) is None
    options = dict(phase='train', gt_size=16, use_hflip=True, use_rot=True)
    crops = []
    for data in (make_dataset(lq_dir, gt_dir, backend='disk', **options),
                 make_dataset(lq_dir + '.lmdb', gt_dir + '.lmdb', backend='lmdb', **options)):
        random.seed(5)
        crops.append([data[i % 2]['lq'] for i in range(4)])
    for disk_crop, lmdb_crop in zip(*crops):
        assert torch.equal(disk_crop, lmdb_crop)


def test_datasets_share_an_lmdb_in_one_process_and_across_forked_workers(tmp_path):
    # Training and validation read one LMDB: in the main process (num_worker_per_gpu 0, validation) and in
    # loader workers forked after the main process opened it (py-lmdb refuses a second open of one file).
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a', 'b'])
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir) is None
    disk = make_dataset(lq_dir, gt_dir)
    train, val = (make_dataset(lq_dir + '.lmdb', gt_dir + '.lmdb', backend='lmdb') for _ in range(2))
    assert torch.equal(train[0]['lq'], disk[0]['lq']) and torch.equal(val[1]['gt'], disk[1]['gt'])
    loader = torch.utils.data.DataLoader(train, batch_size=2, num_workers=1, multiprocessing_context='fork')
    for _ in range(2):  # an epoch forks new workers while val's reads in this process have opened the LMDB
        batch = next(iter(loader))
        assert torch.equal(batch['gt'][1], disk[1]['gt'])
        assert torch.equal(val[0]['lq'], disk[0]['lq'])


def test_an_lmdb_re_created_at_the_same_path_is_read_anew(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'], seed=0)
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir) is None
    before = make_dataset(lq_dir + '.lmdb', gt_dir + '.lmdb', backend='lmdb')[0]['lq']
    write_pairs(str(tmp_path), ['a'], seed=1)
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir, '--force') is None
    after = make_dataset(lq_dir + '.lmdb', gt_dir + '.lmdb', backend='lmdb')[0]['lq']
    assert torch.equal(after, make_dataset(lq_dir, gt_dir)[0]['lq']) and not torch.equal(after, before)


def test_a_bad_lmdb_value_names_the_lmdb_and_key(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a', 'b'])
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir) is None
    with lmdb.open(gt_dir + '.lmdb') as env, env.begin(write=True) as txn:
        txn.put(b'b', b'not an image')
    with pytest.raises(InputError, match=f'^{gt_dir}.lmdb:b: cannot read this image'):
        make_dataset(lq_dir + '.lmdb', gt_dir + '.lmdb', backend='lmdb')


def test_refuses_to_overwrite_without_force(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'])
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir) is None
    write_pairs(str(tmp_path), ['b'])
    assert 'low.lmdb already exists: pass --force' in run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir)
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir, '--force') is None
    assert [p['key'] for p in make_dataset(lq_dir + '.lmdb', gt_dir + '.lmdb', backend='lmdb').pairs] == ['a', 'b']


def test_outputs_may_go_to_new_folders(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'])
    outputs = [str(tmp_path / 'packed' / role / f'{role}.lmdb') for role in ('lq', 'gt')]
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir, '--lq-out', outputs[0], '--gt-out', outputs[1],
                      '--store', 'png') is None
    assert [p['key'] for p in make_dataset(*outputs, backend='lmdb').pairs] == ['a']


def test_a_bad_pair_stops_packing_before_anything_is_written(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a', 'b'])
    with open(os.path.join(gt_dir, 'b.png'), 'r+b') as f:
        f.truncate(100)
    error = run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir)
    assert error.startswith('create_lmdb.py: error: ') and 'high/b.png: cannot read this image' in error
    assert not os.path.exists(lq_dir + '.lmdb') and not os.path.exists(gt_dir + '.lmdb')


def test_meta_info_that_does_not_match_the_keys_is_named(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a', 'b'])
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir) is None
    meta_info = gt_dir + '.lmdb/meta_info.txt'
    with open(meta_info, 'a') as f:
        f.write('c.png (40,48,3) 1\n')
    with pytest.raises(InputError, match=f"{meta_info} does not match the keys of .*high.lmdb: first difference 'c'"):
        make_dataset(lq_dir + '.lmdb', gt_dir + '.lmdb', backend='lmdb')


def uncomment_lmdb_lines(text):
    """``text`` as its header says to make it read LMDB: each commented ``key: value`` line uncommented, in place
    of the line above it (the same key at the same indentation); also the number of lines so swapped."""
    lines, swapped = text.splitlines(keepends=True), 0
    for i, line in enumerate(lines):
        match = re.fullmatch(r'( *)# (\w+): (.*)\n', line)
        if match and i and lines[i - 1].startswith(f'{match[1]}{match[2]}: '):
            lines[i - 1], lines[i] = f'{match[1]}{match[2]}: {match[3]}\n', ''
            swapped += 1
    return ''.join(lines), swapped


def test_lmdb_lines_of_lol_gan_read_the_same_data_from_lmdb():
    path = os.path.join(REPO, 'options', 'lol_gan.yml')
    with open(path) as f:
        text = f.read()
    packed_text, swapped = uncomment_lmdb_lines(text)
    assert swapped == 6  # dataroot_lq, dataroot_gt and io_backend:type of train and val
    disk = parse_options_text(text, path)
    packed = parse_options_text(packed_text, path)  # as msiagan-train reads it: valid options
    for phase in ('train', 'val'):
        for key in ('dataroot_lq', 'dataroot_gt'):
            assert packed['datasets'][phase].pop(key) == disk['datasets'][phase].pop(key) + '.lmdb'
        assert packed['datasets'][phase].pop('io_backend') == {'type': 'lmdb'}
        assert disk['datasets'][phase].pop('io_backend') == {'type': 'disk'}
    assert packed == disk


class FullDiskLmdbMaker(LmdbMaker):
    """BasicSR's LmdbMaker on a disk that fills at the second image: LMDB says 'Input/output error'."""

    def put(self, *args):
        if self.counter:
            raise lmdb.Error('mdb_txn_commit: Input/output error')
        super().put(*args)


def test_a_full_disk_leaves_no_half_written_lmdb(tmp_path, monkeypatch):
    lq_dir, gt_dir = write_pairs(str(tmp_path / 'data'), ['a', 'b'], size=(8, 8))
    monkeypatch.setattr(create_lmdb, 'LmdbMaker', FullDiskLmdbMaker)
    monkeypatch.setattr(msiagan.utils.writing, 'free_bytes', lambda path: 0)
    error = run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir)
    assert error == (f'create_lmdb.py: error: {lq_dir}.lmdb and {gt_dir}.lmdb: cannot write (no space left on device); '
                     'removed what was written')
    assert sorted(os.listdir(tmp_path / 'data')) == ['high', 'low']
    monkeypatch.undo()
    assert run_script(create_lmdb, '--lq', lq_dir, '--gt', gt_dir) is None  # a rerun needs no --force
    assert len(make_dataset(lq_dir + '.lmdb', gt_dir + '.lmdb', backend='lmdb')) == 2
