"""options/train/shipped_lol_v1/: the shipped LOL-v1 weights' recipe, one file per stage, is the commands that
trained them: each stage file is its base options file plus exactly the --force_yml overrides those runs used
(only the run's name differs besides them), and each names a checkpoint that the previous stage saves."""
import copy
import os
import re
from os import path as osp

import pytest
import yaml
from conftest import REPO

from msiagan.basicsr_patches.options_file import force_yml_value

STAGES_DIR = osp.join('options', 'train', 'shipped_lol_v1')
WISE_MEAN = 'experiments/MSIAGAN_LOLv1_shipped_6_exposure_restart/models/net_g_wise.pth'  # stage 6's file makes it

# stage file -> (base options file, the --force_yml overrides of the recorded command, less its name=)
STAGES = {
    '1_content.yml': ('options/train/recommended_gan_lol.yml', [
        'train:gan_opt:loss_weight=0', 'train:total_iter=36000', 'train:scheduler:periods=[36000]']),
    '2_warm_restart.yml': ('options/train/recommended_gan_lol.yml', [
        'path:pretrain_network_g=experiments/MSIAGAN_LOLv1_shipped_1_content/models/net_g_33000.pth',
        'train:optim_g:lr=0.0001', 'train:total_iter=4000', 'train:scheduler:periods=[8000]',
        'train:gan_opt:loss_weight=0']),
    '3_frame_flip.yml': ('options/train/recommended_content_lol.yml', [
        'path:pretrain_network_g=experiments/MSIAGAN_LOLv1_shipped_2_warm_restart/models/net_g_3500.pth',
        'datasets:train:lq_frame_flip=true', 'train:optim_g:lr=0.0001', 'train:total_iter=6000',
        'train:scheduler:periods=[6000]', 'train:scheduler:restart_weights=[1]']),
    '4_grid_free.yml': ('options/train/recommended_content_lol.yml', [
        'path:pretrain_network_g=experiments/MSIAGAN_LOLv1_shipped_3_frame_flip/models/net_g_3500.pth',
        'network_g:resample=blurred_ae3_up', 'datasets:train:lq_frame_flip=true', 'train:optim_g:lr=0.0001',
        'train:total_iter=6000', 'train:scheduler:periods=[6000]', 'train:scheduler:restart_weights=[1]']),
    '5_exposure.yml': ('options/train/exposure_lol.yml', [
        'path:pretrain_network_g=experiments/MSIAGAN_LOLv1_shipped_4_grid_free/models/net_g_3500.pth',
        'datasets:train:exposure_synthesis:probability=0.2',
        'datasets:train:exposure_synthesis:reference_probability=0.05']),
    '6_exposure_restart.yml': ('options/train/exposure_lol.yml', [
        'path:pretrain_network_g=experiments/MSIAGAN_LOLv1_shipped_5_exposure/models/net_g_6000.pth',
        'datasets:train:exposure_synthesis:probability=0.2',
        'datasets:train:exposure_synthesis:reference_probability=0.05', 'train:optim_g:lr=0.00005']),
    '7_exposure_condition.yml': ('options/train/exposure_condition_frozen_lol.yml', [
        f'path:pretrain_network_g={WISE_MEAN}']),
    '8_jpeg_inputs.yml': ('options/train/jpeg_inputs_lol.yml', [
        'path:pretrain_network_g=experiments/MSIAGAN_LOLv1_shipped_7_exposure_condition/models/net_g_4000.pth']),
}
NAMES = {'1_content.yml': 'MSIAGAN_LOLv1_shipped_1_content',
         '2_warm_restart.yml': 'MSIAGAN_LOLv1_shipped_2_warm_restart',
         '3_frame_flip.yml': 'MSIAGAN_LOLv1_shipped_3_frame_flip',
         '4_grid_free.yml': 'MSIAGAN_LOLv1_shipped_4_grid_free',
         '5_exposure.yml': 'MSIAGAN_LOLv1_shipped_5_exposure',
         '6_exposure_restart.yml': 'MSIAGAN_LOLv1_shipped_6_exposure_restart',
         '7_exposure_condition.yml': 'MSIAGAN_LOLv1_shipped_7_exposure_condition',
         '8_jpeg_inputs.yml': 'MSIAGAN_LOLv1_shipped_8_jpeg_inputs'}


def load(path):
    with open(osp.join(REPO, path)) as f:
        return yaml.safe_load(f)


def force_yml(opt, entries):
    """``opt`` with BasicSR's --force_yml ``entries`` applied (keys split on ':', values read as BasicSR does)."""
    opt = copy.deepcopy(opt)
    for entry in entries:
        keys, value = entry.split('=', 1)
        *parents, last = keys.split(':')
        section = opt
        for key in parents:
            section = section[key]
        section[last] = force_yml_value(value)
    return opt


def test_the_recipe_is_eight_stage_files():
    assert sorted(f for f in os.listdir(osp.join(REPO, STAGES_DIR)) if f.endswith('.yml')) == sorted(STAGES)


@pytest.mark.parametrize('stage', sorted(STAGES))
def test_stage_is_its_base_file_plus_the_recorded_overrides(stage):
    base, overrides = STAGES[stage]
    expected = force_yml(load(base), overrides)
    actual = load(osp.join(STAGES_DIR, stage))
    assert actual.pop('name') == NAMES[stage]
    expected.pop('name')
    assert actual == expected
    # the recorded runs loaded their start's params with BasicSR's defaults (param_key_g params, strict), but for
    # stage 7, which adds the exposure condition (and trains it alone)
    adds_a_part = actual['train'].get('train_only_g') == ['exposure_condition']
    assert 'param_key_g' not in actual['path'] and actual['path']['strict_load_g'] is not adds_a_part
    assert actual['train']['ema_decay'] == 0  # so the checkpoints hold params only, all a warm restart reads


@pytest.mark.parametrize('stage', ['2_warm_restart.yml', '3_frame_flip.yml', '4_grid_free.yml', '5_exposure.yml',
                                   '6_exposure_restart.yml', '8_jpeg_inputs.yml'])
def test_each_stage_starts_from_a_checkpoint_the_previous_stage_saves(stage):
    previous = sorted(STAGES)[sorted(STAGES).index(stage) - 1]
    assert_a_checkpoint_the_stage_saves(load(osp.join(STAGES_DIR, stage))['path']['pretrain_network_g'], previous)


def assert_a_checkpoint_the_stage_saves(weights, stage):
    """weights is experiments/<stage's name>/models/net_g_<an iteration stage saves and validates>.pth."""
    opt = load(osp.join(STAGES_DIR, stage))
    match = re.fullmatch(r'experiments/(\w+)/models/net_g_(\d+)\.pth', weights)
    assert match and match[1] == opt['name'], weights
    iteration = int(match[2])
    assert iteration <= opt['train']['total_iter']
    assert iteration % opt['logger']['save_checkpoint_freq'] == 0
    assert iteration % opt['val']['val_freq'] == 0  # chosen on val: validated at that iteration


def test_the_shipped_soup_is_made_of_checkpoints_that_stages_save():
    with open(osp.join(REPO, STAGES_DIR, '8_jpeg_inputs.yml')) as f:
        header = f.read().split('\nname:')[0]
    command = header[header.index('average_checkpoints.py'):header.index('--out')].replace('\\\n#', ' ')
    checkpoints = re.findall(r'experiments/\S+\.pth', command)
    stages = ['7_exposure_condition.yml', '6_exposure_restart.yml', '8_jpeg_inputs.yml']
    assert len(checkpoints) == len(stages)
    for path, stage in zip(checkpoints, stages):
        assert_a_checkpoint_the_stage_saves(path, stage)  # which checks the stage's name in the path
    assert '--weights 0.5 0.25 0.25 --frozen-extras' in command


def test_stage_7_starts_from_the_mean_that_the_sixth_stage_file_makes():
    with open(osp.join(REPO, STAGES_DIR, '6_exposure_restart.yml')) as f:
        assert f'--out {WISE_MEAN}' in f.read()  # its average_checkpoints.py command
    assert load(osp.join(STAGES_DIR, '7_exposure_condition.yml'))['path']['pretrain_network_g'] == WISE_MEAN


def test_the_first_stage_starts_from_scratch():
    assert load(osp.join(STAGES_DIR, '1_content.yml'))['path']['pretrain_network_g'] is None
