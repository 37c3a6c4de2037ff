import os
import random

import numpy as np
import pytest
import torch
from conftest import make_dataset, write_pairs

from msiagan.utils.errors import InputError


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


def seeded_items(data, seeds, index=0):
    """data[index] drawn once under each seed (the crops, flips and turns use NumPy's and Python's generators)."""
    items = []
    for seed in seeds:
        np.random.seed(seed)
        random.seed(seed)
        items.append(data[index])
    return items


def test_training_crop_takes_the_same_window(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'], size=(64, 48))
    whole = make_dataset(lq_dir, gt_dir)[0]['gt']
    data = make_dataset(lq_dir, gt_dir, phase='train', gt_size=32, use_hflip=False, use_rot=False)
    windows = set()
    for item in seeded_items(data, range(10)):
        assert item['lq'].shape == item['gt'].shape == (3, 32, 32)
        expected_lq = torch.floor(item['gt'] * 255 / 8) / 255  # the input of each pair is gt // 8
        torch.testing.assert_close(item['lq'], expected_lq, atol=1e-6, rtol=0)
        top, left = next((top, left) for top in range(17) for left in range(33)
                         if torch.equal(whole[:, top:top + 32, left:left + 32], item['gt']))  # a window of gt
        windows.add((top, left))
    assert len(windows) > 5  # chosen at random


def dihedral(img, use_hflip, use_rot):
    """The flips and turns of (C, H, W) that BasicSR's augment can give: horizontal flips; vertical flips and
    transposition (a 90-degree turn is one after the other)."""
    images = [img]
    if use_hflip:
        images += [x.flip(-1) for x in images]
    if use_rot:
        images += [x.flip(-2) for x in images]
        images += [x.transpose(-1, -2) for x in images]
    return images


@pytest.mark.parametrize('use_hflip, use_rot', [(False, False), (True, False), (False, True), (True, True)])
def test_flips_and_turns_follow_the_options(tmp_path, use_hflip, use_rot):
    """Whole 32x32 frames drawn under 64 seeds come out in each allowed orientation and no other, input and
    reference alike."""
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'], size=(32, 32))
    upright = make_dataset(lq_dir, gt_dir)[0]
    data = make_dataset(lq_dir, gt_dir, phase='train', gt_size=32, use_hflip=use_hflip, use_rot=use_rot)
    seen = {(item['lq'].numpy().tobytes(), item['gt'].numpy().tobytes()) for item in seeded_items(data, range(64))}
    orientations = (dihedral(upright[role], use_hflip, use_rot) for role in ('lq', 'gt'))
    allowed = {(lq.numpy().tobytes(), gt.numpy().tobytes()) for lq, gt in zip(*orientations)}
    assert len(allowed) == 2 ** (use_hflip + 2 * use_rot)
    assert seen == allowed


def test_training_without_gt_size_uses_whole_frames(pairs):
    item = make_dataset(*pairs, phase='train', gt_size=None)[1]
    assert item['gt'].shape == (3, 40, 48)


def test_sampling_is_deterministic_under_a_seed(pairs):
    data = make_dataset(*pairs, phase='train', gt_size=16, use_hflip=True, use_rot=True)
    crops = [item['gt'] for item in seeded_items(data, (3, 3, 4), index=2)]
    torch.testing.assert_close(crops[0], crops[1])
    assert not torch.equal(crops[0], crops[2])  # the crop and flips do depend on the seed
