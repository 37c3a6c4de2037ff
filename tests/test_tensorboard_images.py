"""TensorBoard pictures of validation: input | output | reference of the first logger:tb_images validation images."""
import os

import cv2
import numpy as np
import pytest
import torch
from conftest import (finished_output, make_dataset, make_model, start_training, tiny_train_options, write_options,
                      write_pairs)
from tensorboard.backend.event_processing.event_accumulator import IMAGES, EventAccumulator

from msiagan.utils.errors import InputError
from msiagan.utils.options_check import check_options_argv


def test_validation_images_are_in_the_event_file_at_the_validation_steps(tmp_path):
    train_dirs = write_pairs(str(tmp_path / 'train'), ['0', '1'], size=(40, 40))
    lq_dir, gt_dir = write_pairs(str(tmp_path / 'val'), ['a', 'b', 'c'], size=(32, 24), seed=1)
    opt = tiny_train_options('tb', train_dirs, (lq_dir, gt_dir), total_iter=4)
    opt['logger'].update(use_tb_logger=True, tb_images=2)
    training = start_training(tmp_path, write_options(tmp_path / 'tb.yml', opt))
    output = finished_output(training)
    assert training.returncode == 0, output[-3000:]
    events = EventAccumulator(str(tmp_path / 'tb_logger' / 'tb'), size_guidance={IMAGES: 0})
    events.Reload()
    assert sorted(events.Tags()[IMAGES]) == ['images/tiny_val/a', 'images/tiny_val/b']  # the first 2 of 3
    assert 'metrics/tiny_val/psnr' in events.Tags()['scalars']
    for name in ('a', 'b'):
        logged = events.Images(f'images/tiny_val/{name}')
        assert [image.step for image in logged] == [2, 4, 5]  # val_freq 2; BasicSR's validation after training: 5
        side_by_side = cv2.imdecode(np.frombuffer(logged[-1].encoded_image_string, np.uint8), cv2.IMREAD_COLOR)
        assert side_by_side.shape == (24, 3 * 32, 3)
        assert np.array_equal(side_by_side[:, :32], cv2.imread(os.path.join(lq_dir, f'{name}.png')))
        assert np.array_equal(side_by_side[:, 64:], cv2.imread(os.path.join(gt_dir, f'{name}.png')))
        assert not np.array_equal(side_by_side[:, 32:64], side_by_side[:, :32])  # the output, not the input again


class RecordingWriter:
    """A stand-in for a SummaryWriter: records the tags of the images and scalars added."""

    def __init__(self):
        self.images, self.scalars = [], []

    def add_image(self, tag, image, step, dataformats):
        self.images.append(tag)

    def add_scalar(self, tag, value, step):
        self.scalars.append(tag)


@pytest.mark.parametrize('tb_images, logged', [(0, []), (4, ['v1', 'v2', 'v3']), (1, ['v1'])])
def test_the_number_of_images_is_an_option(tmp_path, tb_images, logged):
    lq_dir, gt_dir = write_pairs(str(tmp_path / 'val'), ['v1', 'v2', 'v3'], size=(32, 24))
    model = make_model(tmp_path)
    model.opt['logger']['tb_images'] = tb_images
    loader = torch.utils.data.DataLoader(make_dataset(lq_dir, gt_dir, name='tiny_val'), batch_size=1)
    writer = RecordingWriter()
    model.validation(loader, 1, writer, False)
    assert writer.images == [f'images/tiny_val/{name}' for name in logged]
    assert writer.scalars  # the metrics, whatever the images
    model.validation(loader, 2, None, False)  # without TensorBoard: nothing to log to, and no failure


@pytest.mark.parametrize('value', ['-1', 'true', '2.5', 'many'])
def test_a_bad_number_of_images_is_named(tmp_path, value):
    dirs = write_pairs(str(tmp_path / 'pairs'), ['a'], size=(32, 32))
    options = write_options(tmp_path / 'bad.yml', tiny_train_options('bad', dirs, dirs))
    with pytest.raises(InputError, match=f'^{tmp_path / "bad.yml"}: logger:tb_images .*: must be a number of '
                                         'validation images, 0 or more$'):
        check_options_argv(['-opt', options, '--force_yml', f'logger:tb_images={value}'], True)
    check_options_argv(['-opt', options, '--force_yml', 'logger:tb_images=0'], True)
