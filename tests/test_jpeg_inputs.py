"""Training inputs saved as JPEG (datasets:train:jpeg_inputs): the JPEG of the input in its own layout and type, the
qualities and share asked, reproducible with a seed, applied to the crop only, and bad options named."""
import random

import numpy as np
import pytest
import torch
from conftest import make_dataset, write_pairs

from msiagan.data.jpeg_inputs import JpegInputs, save_as_jpeg
from msiagan.utils.errors import InputError


def test_an_input_is_saved_as_jpeg_in_its_own_layout_and_type():
    always = JpegInputs({'probability': 1, 'quality': 40}, 'x')
    bgr = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    expected = save_as_jpeg(bgr, 40)
    assert np.abs(expected.astype(int) - bgr).max() > 0
    assert np.array_equal(always(bgr), expected)
    as_float = always(bgr.astype(np.float32) / 255)
    assert as_float.dtype == np.float32 and np.array_equal(np.round(as_float * 255).astype(np.uint8), expected)
    as_uint16 = always(bgr.astype(np.uint16) * 257)
    assert as_uint16.dtype == np.uint16 and np.array_equal(as_uint16, expected.astype(np.uint16) * 257)
    rgb = torch.from_numpy(np.ascontiguousarray(bgr[..., ::-1].transpose(2, 0, 1)))  # as cache: device holds it
    expected_rgb = torch.from_numpy(np.ascontiguousarray(expected[..., ::-1].transpose(2, 0, 1)))
    assert torch.equal(always(rgb), expected_rgb)
    as_float_tensor = always(rgb.float() / 255)
    assert as_float_tensor.dtype == torch.float32 and torch.equal(torch.round(as_float_tensor * 255).byte(),
                                                                   expected_rgb)


def test_qualities_and_share_are_drawn_as_asked_and_again_with_the_same_seed():
    jpeg = JpegInputs({'probability': 0.3, 'quality': [20, 30]}, 'x')
    draws = [jpeg.draw(torch.Generator().manual_seed(0)) for _ in range(2)]
    assert draws[0] == draws[1]
    generator = torch.Generator().manual_seed(1)
    draws = [jpeg.draw(generator) for _ in range(6000)]
    qualities = [quality for quality in draws if quality is not None]
    assert len(qualities) / len(draws) == pytest.approx(0.3, abs=0.02)
    assert set(qualities) == set(range(20, 31))
    assert np.mean(qualities) == pytest.approx(25, abs=0.3)
    assert JpegInputs({'probability': 0}, 'x').draw() is None


@pytest.mark.parametrize('options, message', [
    ({'probability': 1.5}, r'probability: 1.5 is not a number from 0 to 1'),
    ({'probability': True}, r'probability: True is not a number'),
    ({'quality': [95, 30]}, r'quality: \[95, 30\] is not an integer or a \[low, high\] range within \[1, 100\]'),
    ({'quality': 0}, r'quality: 0 is not an integer'),
    ({'quality': 85.5}, r'quality: 85.5 is not an integer'),
    ({'quality': True}, r'quality: True is not an integer'),
    ({'quality': '85'}, r"quality: '85' is not an integer"),
    ({'quality': [30, 60, 95]}, r'quality: \[30, 60, 95\] is not an integer'),
    ({'probability': None}, r'probability: None is not a number'),
    ({'qualities': 85}, "unknown option 'qualities' \\(it takes: probability, quality\\)"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(InputError, match=f'^datasets: train: jpeg_inputs:? ?{message}'):
        JpegInputs(options, 'datasets: train: jpeg_inputs')


def test_only_training_sets_take_it_as_a_mapping_of_options(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'])
    with pytest.raises(InputError, match='jpeg_inputs: makes training inputs; the val phase takes'):
        make_dataset(lq_dir, gt_dir, jpeg_inputs={})
    for value in (True, False, 0.5, [30, 95]):
        with pytest.raises(InputError, match=f'^datasets: None: jpeg_inputs: {value!r} is not a mapping of options '
                           r'\(~ for none\)$'.replace('[', r'\[').replace(']', r'\]')):
            make_dataset(lq_dir, gt_dir, phase='train', jpeg_inputs=value)
    defaults = make_dataset(lq_dir, gt_dir, phase='train', jpeg_inputs={}).jpeg_inputs
    assert (defaults.probability, defaults.quality) == (0.5, (30, 95))
    assert make_dataset(lq_dir, gt_dir, phase='train', jpeg_inputs=None).jpeg_inputs is None


@pytest.mark.parametrize('cache', [None, 'memory', 'device'])
def test_the_crop_is_saved_as_jpeg_and_the_frame_and_reference_are_not(tmp_path, cache):
    """The same seed with and without jpeg_inputs: the same crop, frame and reference, the crop then saved as JPEG."""
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'], size=(64, 48))
    options = dict(phase='train', gt_size=32, use_hflip=True, use_rot=True, lq_frame=True, lq_frame_flip=True,
                   cache=cache)
    plain = make_dataset(lq_dir, gt_dir, **options)
    saved = make_dataset(lq_dir, gt_dir, jpeg_inputs={'probability': 1, 'quality': 10}, **options)
    for seed in range(3):
        items = []
        for data in (plain, saved):
            random.seed(seed)
            torch.manual_seed(seed)
            items.append(data[0])
        assert torch.equal(items[0]['gt'], items[1]['gt']) and torch.equal(items[0]['lq_frame'], items[1]['lq_frame'])
        crop_bgr = (items[0]['lq'].flip(0).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        expected = torch.from_numpy(save_as_jpeg(crop_bgr, 10)[..., ::-1].transpose(2, 0, 1).copy()).float() / 255
        torch.testing.assert_close(items[1]['lq'], expected, atol=1e-6, rtol=0)
        assert not torch.equal(items[0]['lq'], items[1]['lq'])
