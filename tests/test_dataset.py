import os
import random

import numpy as np
import pytest
import torch
from conftest import make_dataset, write_pairs

from msiagan.errors import InputError


def test_pairs_by_stem_across_extensions_sorted(pairs):
    data = make_dataset(*pairs)
    assert [os.path.basename(p['lq_path']) for p in data.pairs] == ['1.png', '10.png', '2.png']
    assert [os.path.basename(p['gt_path']) for p in data.pairs] == ['1.jpg', '10.jpg', '2.jpg']
    item = data[0]
    assert item['lq'].shape == item['gt'].shape == (3, 40, 48)  # whole frame in validation
    assert item['lq'].dtype == torch.float32 and 0 <= item['lq'].min() and item['gt'].max() <= 1


def test_stem_without_partner_is_named(pairs):
    os.remove(os.path.join(pairs[1], '10.jpg'))
    with pytest.raises(InputError, match="'10' is in .*low but has no partner in .*high"):
        make_dataset(*pairs)


def test_training_crop_takes_the_same_window(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'], size=(64, 48))
    data = make_dataset(lq_dir, gt_dir, phase='train', gt_size=32, use_hflip=True, use_rot=True)
    for _ in range(10):
        item = data[0]
        assert item['lq'].shape == item['gt'].shape == (3, 32, 32)
        expected_lq = torch.floor(item['gt'] * 255 / 8) / 255  # the input of each pair is gt // 8
        torch.testing.assert_close(item['lq'], expected_lq, atol=1e-6, rtol=0)


def test_training_without_gt_size_uses_whole_frames(pairs):
    item = make_dataset(*pairs, phase='train', gt_size=None)[1]
    assert item['gt'].shape == (3, 40, 48)


def test_sampling_is_deterministic_under_a_seed(pairs):
    data = make_dataset(*pairs, phase='train', gt_size=16, use_hflip=True, use_rot=True)
    crops = []
    for seed in (3, 3, 4):
        np.random.seed(seed)
        random.seed(seed)
        crops.append(data[2]['gt'])
    torch.testing.assert_close(crops[0], crops[1])
    assert not torch.equal(crops[0], crops[2])  # the crop and flips do depend on the seed
