"""Options files cannot run code: Python tags and code in --force_yml lists are refused, at every entry point,
and every honest file and value reads as with BasicSR's own parser."""
import glob
import importlib
import re
import sys
from os import path as osp

import pytest
import torch
import yaml
from basicsr.utils import options as basicsr_options
from conftest import REPO, load_script, run_entry, tiny_train_options, write_options, write_pairs

from msiagan import basicsr_patches
from msiagan.basicsr_patches.options_file import (BASICSR_ORDERED_YAML, BASICSR_YML_VALUE, force_yml_value,
                                                  parse_options_text, read_options_file)
from msiagan.enhance import main as enhance_main
from msiagan.utils import options_check
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.options_check import check_options_argv

REFUSED = 'refused, options files may not hold Python objects'

# Written for this test after BasicSR's documented options (options/train, options/test of its repository):
# !!float numbers, ~, flow lists, nested sections, comments; then the YAML features a hand-written file may use.
BASICSR_STYLE_TRAIN = """\
# general settings
name: 001_MSRResNet_x4_f64b16_DIV2K_1000k_B16G1_wandb
model_type: SRModel
scale: 4
num_gpu: auto  # 0 for the CPU
manual_seed: 0

datasets:
  train:
    name: DIV2K
    type: PairedImageDataset
    dataroot_gt: datasets/DF2K/DIV2K_train_HR_sub
    dataroot_lq: datasets/DF2K/DIV2K_train_LR_bicubic_X4_sub
    meta_info_file: basicsr/data/meta_info/meta_info_DIV2K800sub_GT.txt
    filename_tmpl: '{}'
    io_backend:
      type: disk
    gt_size: 128
    use_hflip: true
    use_rot: false
    use_shuffle: true
    num_worker_per_gpu: 6
    batch_size_per_gpu: 16
    dataset_enlarge_ratio: 100
    prefetch_mode: ~
  val_1:
    name: Set5
    type: PairedImageDataset
    dataroot_gt: datasets/Set5/GTmod12
    dataroot_lq: datasets/Set5/LRbicx4
    io_backend:
      type: disk

network_g:
  type: MSRResNet
  num_in_ch: 3
  num_out_ch: 3
  num_feat: 64
  num_block: 16
  upscale: 4

path:
  pretrain_network_g: ~
  param_key_g: params_ema
  strict_load_g: true
  resume_state: ~

train:
  ema_decay: 0.999
  optim_g:
    type: Adam
    lr: !!float 2e-4
    weight_decay: 0
    betas: [0.9, 0.99]
  scheduler:
    type: CosineAnnealingRestartLR
    periods: [250000, 250000, 250000, 250000]
    restart_weights: [1, 1, 1, 1]
    eta_min: !!float 1e-7
  total_iter: 1000000
  warmup_iter: -1  # no warm up
  pixel_opt:
    type: L1Loss
    loss_weight: 1.0
    reduction: mean

val:
  val_freq: !!float 5e3
  save_img: false
  metrics:
    psnr:
      type: calculate_psnr
      crop_border: 4
      test_y_channel: false
      better: higher

logger:
  print_freq: 100
  save_checkpoint_freq: !!float 5e3
  use_tb_logger: true
  wandb:
    project: ~
    resume_id: ~

dist_params:
  backend: nccl
  port: 29500
find_unused_parameters: true
"""

BASICSR_STYLE_TEST = """\
name: ESRGAN_SRx4_DF2KOST_official
model_type: ESRGANModel
scale: 4
num_gpu: 1
manual_seed: 0
datasets:
  test_1:
    name: Set14
    type: PairedImageDataset
    dataroot_gt: datasets/Set14/GTmod12
    dataroot_lq: datasets/Set14/LRbicx4
    io_backend: {type: disk}
network_g: {type: RRDBNet, num_in_ch: 3, num_out_ch: 3, num_feat: 64, num_block: 23}
path:
  pretrain_network_g: experiments/pretrained_models/ESRGAN/ESRGAN_SRx4_DF2KOST_official-ff704c30.pth
  strict_load_g: true
val:
  save_img: true
  suffix: ~  # add suffix to saved images, if None, use exp name
  metrics:
    psnr: {type: calculate_psnr, crop_border: 4, test_y_channel: false}
"""

YAML_FEATURES = """\
defaults: &adam {type: Adam, lr: !!float 1e-4, betas: [0.9, 0.99]}
optim_g: *adam
optim_d: *adam
"quoted key": 'single ''quoted'' value'
folded: >
  several lines
  of text
literal: |
  kept
  as written
text_number: !!str 3
int_from_text: !!int "7"
yes_no: [yes, no, on, off, True, FALSE]
numbers: [0x10, 010, 1_000, .inf, -.inf, 1.5e3, 1e-4, +12, -0.0]
date: 2021-03-04
nested: [[1, 2], {a: ~, b: [x, y]}, []]
empty:
'~': tilde key
last: 1
last: 2
"""


def basicsr_reads(text):
    """The options as BasicSR 1.4.2's own loader (``ordered_yaml()``, unsafe) builds them from ``text``."""
    return yaml.load(text, Loader=BASICSR_ORDERED_YAML()[0])


def honest_files():
    return sorted(glob.glob(osp.join(REPO, 'options', '**', '*.yml'), recursive=True)
                  + glob.glob(osp.join(REPO, 'msiagan', 'weights', '*.yml')))


@pytest.mark.parametrize('options_file', honest_files(), ids=osp.basename)
def test_our_options_files_read_as_with_basicsr(options_file):
    with open(options_file) as f:
        expected = basicsr_reads(f.read())
    # repr: OrderedDicts in the same order, and the same types (1 and 1.0 and True compare equal)
    assert repr(read_options_file(options_file)) == repr(expected)


@pytest.mark.parametrize('text', [BASICSR_STYLE_TRAIN, BASICSR_STYLE_TEST, YAML_FEATURES],
                         ids=['basicsr_train', 'basicsr_test', 'yaml_features'])
def test_basicsr_style_options_read_as_with_basicsr(text):
    options = parse_options_text(text, 'x.yml')
    assert repr(options) == repr(basicsr_reads(text))
    assert type(options).__name__ == 'OrderedDict' and len(options) > 5


def python_tag_file(path, marker, tag='!!python/object/apply:os.system'):
    """An options file whose line 4 holds ``tag`` with a command that creates ``marker``."""
    path.write_text(f'name: shared\nnetwork_g:\n  type: MSIAGenerator\n  act: {tag} ["touch {marker}"]\n')
    return str(path)


def test_the_python_tag_payload_is_real(tmp_path):
    """BasicSR's own loader runs the command of python_tag_file: the tests below would see it."""
    marker = tmp_path / 'pwned'
    with open(python_tag_file(tmp_path / 'shared.yml', marker)) as f:
        basicsr_reads(f.read())
    assert marker.exists()


@pytest.mark.parametrize('tag, shown', [
    ('!!python/object/apply:os.system', '!!python/object/apply:os.system'),
    ('!!python/object/new:os.system', '!!python/object/new:os.system'),
    ('!<tag:yaml.org,2002:python/object/apply:subprocess.call>', '!!python/object/apply:subprocess.call'),
    ('!!python/tuple', '!!python/tuple'),
])
def test_python_tags_are_refused_naming_file_line_and_tag(tmp_path, tag, shown):
    marker = tmp_path / 'pwned'
    options_file = python_tag_file(tmp_path / 'shared.yml', marker, tag)
    with pytest.raises(InputError, match=f'^{re.escape(options_file)}, line 4: tag {re.escape(shown)} {REFUSED}$'):
        read_options_file(options_file)
    assert not marker.exists()


def test_a_python_tag_as_a_key_or_deep_in_a_list_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    for text, line in ((f'a: 1\n? !!python/object/apply:os.system ["touch {marker}"]\n: 2\n', 2),
                       (f'a:\n  b: [1, {{c: [!!python/object/apply:os.system ["touch {marker}"]]}}]\n', 2)):
        with pytest.raises(InputError, match=f'^x.yml, line {line}: tag !!python/object/apply:os.system {REFUSED}$'):
            parse_options_text(text, 'x.yml')
    assert not marker.exists()


@pytest.mark.parametrize('text, where, problem', [
    ('name: [unclosed\n', 'line 2, column 1', "while parsing a flow sequence: did not find expected ',' or ']'"),
    ('a:\n  b: 1\n c: 2\n', 'line 3, column 2', 'while parsing a block mapping: did not find expected key'),
    ('a: b: c\n', 'line 1, column 5', 'mapping values are not allowed in this context'),
    ('a: 1\nb: "x\x07"\n', 'line 2, column 6', 'character #x07: control characters are not allowed'),
    ('train:\n  lr: !!float 2e-4x\n', 'line 2, column 7', "could not convert string to float: '2e-4x'"),
    ('a: 2021-02-30\n', 'line 1, column 4', 'day is out of range for month'),
    ('a: 1\n? [1, 2]\n: 3\n', 'line 1, column 1', "unhashable type: 'list'"),
    ('a: !foo 1\n', 'line 1, column 4', "could not determine a constructor for the tag '!foo'"),
    ('a: 1\n---\nb: 2\n', 'line 2, column 1', 'expected a single document in the stream: but found another document'),
])
def test_files_that_do_not_parse_name_line_and_column(text, where, problem):
    with pytest.raises(InputError, match=f'^{re.escape(f"x.yml, {where}: not valid YAML ({problem})")}$'):
        parse_options_text(text, 'x.yml')


def test_unreadable_and_non_mapping_files(tmp_path):
    with pytest.raises(InputError, match=f'^{tmp_path}/none.yml: cannot read \\(No such file or directory\\)$'):
        read_options_file(f'{tmp_path}/none.yml')
    (tmp_path / 'binary.yml').write_bytes(b'\x80\x04\x95 not text')
    with pytest.raises(InputError, match=f'^{tmp_path}/binary.yml: not a text \\(YAML\\) file$'):
        read_options_file(f'{tmp_path}/binary.yml')
    for text in ('', '- a\n- b\n', 'just text\n'):
        with pytest.raises(InputError, match='^x.yml: not a mapping of options$'):
            parse_options_text(text, 'x.yml')


HONEST_VALUES = ['~', 'none', 'None', 'true', 'False', '!!float 1e-4', '!!float5', '42', '3.5', '.5', '-1', '1e-4',
                 'lrelu', 'datasets/LOL-v1/eval15', '[1, 2]', '[0.9, 0.99]', '[1e-4, -2, +3, 1_000]',
                 "['a', \"b\"]", '[[1, 2], (3, 4), {5: 6}]', '[True, False, None]', '[]', '[1,2,]', '[1j, -2.5e3]']


@pytest.mark.parametrize('value', HONEST_VALUES)
def test_force_yml_values_read_as_with_basicsr(value):
    assert repr(force_yml_value(value)) == repr(BASICSR_YML_VALUE(value))


CODE_LISTS = ["[__import__('os').mkdir('{marker}')]", "[open('{marker}', 'w')]", '[x]', '[1][0]', '[2 ** 3]']


@pytest.mark.parametrize('code', CODE_LISTS)
def test_force_yml_lists_that_are_code_are_refused(tmp_path, code):
    value = code.format(marker=tmp_path / 'pwned')
    with pytest.raises(InputError, match=re.escape(f'--force_yml value {value}: a list may hold only literals')):
        force_yml_value(value)
    assert not (tmp_path / 'pwned').exists()


def test_basicsr_parse_options_reads_safely_and_as_before(tmp_path, monkeypatch):
    """After basicsr_patches.install, BasicSR's parse_options (which train/test_pipeline call) gives the same
    options as its own parsing did on an honest file and --force_yml lists, and refuses code."""
    def parse(*argv):
        monkeypatch.setattr(sys, 'argv', ['train.py', *map(str, argv)])
        return basicsr_options.parse_options(str(tmp_path), is_train=True)[0]

    honest = ['-opt', osp.join(REPO, 'options', 'lol_gan.yml'), '--force_yml', 'train:scheduler:milestones=[10, 20]',
              "network_g:act=['lrelu', 0.2]", 'val:save_img=true']
    monkeypatch.setattr(basicsr_options, 'ordered_yaml', BASICSR_ORDERED_YAML)
    monkeypatch.setattr(basicsr_options, '_postprocess_yml_value', BASICSR_YML_VALUE)
    before = parse(*honest)
    basicsr_patches.install(train=False)  # monkeypatch puts BasicSR's YAML reading back afterwards
    assert repr(parse(*honest)) == repr(before)
    assert before['train']['scheduler']['milestones'] == [10, 20]

    marker = tmp_path / 'pwned'
    with pytest.raises(yaml.YAMLError, match='!!python/object/apply:os.system'):
        parse('-opt', python_tag_file(tmp_path / 'shared.yml', marker))
    with pytest.raises(InputError, match='a list may hold only literals'):
        parse(*honest[:2], '--force_yml', f"name=[__import__('os').mkdir('{marker}')]")
    assert not marker.exists()


# ----- every entry point: refused before anything runs, in one line -----

@pytest.mark.parametrize('script', ['train', 'test'])
def test_train_and_test_make_basicsr_read_safely(tmp_path, monkeypatch, script):
    """Past the options check too (here skipped), BasicSR's parse_options refuses a Python tag."""
    monkeypatch.setattr(basicsr_options, 'ordered_yaml', BASICSR_ORDERED_YAML)
    monkeypatch.setattr(basicsr_options, '_postprocess_yml_value', BASICSR_YML_VALUE)
    monkeypatch.setattr(options_check, 'check_options_argv', lambda argv, is_train: None)
    marker = tmp_path / 'pwned'
    monkeypatch.setattr(sys, 'argv', [script, '-opt', python_tag_file(tmp_path / 'shared.yml', marker)])
    with pytest.raises(yaml.YAMLError, match='!!python/object/apply:os.system'):
        importlib.import_module(f'msiagan.{script}').main()
    assert not marker.exists()


def refusal(call):
    """The one-line error that ``call`` (an entry point's main) exits with."""
    with pytest.raises(SystemExit) as stop:
        call()
    return str(stop.value.code)


@pytest.mark.parametrize('script, program, results', [('train', 'msiagan-train', 'experiments'),
                                                      ('test', 'msiagan-test', 'results')])
def test_train_and_test_refuse_a_python_tag(tmp_path, script, program, results):
    marker = tmp_path / 'pwned'
    options_file = python_tag_file(tmp_path / 'shared.yml', marker)
    result = run_entry(script, tmp_path, '-opt', options_file)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f'{program}: error: {options_file}, line 4: tag '
                                                      f'!!python/object/apply:os.system {REFUSED}')
    assert not marker.exists() and not (tmp_path / results).exists()


def test_train_refuses_a_force_yml_list_that_is_code(tmp_path):
    marker = tmp_path / 'pwned'
    options_file = write_options(tmp_path / 'ok.yml', tiny_train_options('ok', ('lq', 'gt'), ('lq', 'gt')))
    code = f"[__import__('os').mkdir('{marker}')]"
    result = run_entry('train', tmp_path, '-opt', options_file, '--force_yml', f'name={code}')
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f"msiagan-train: error: --force_yml value {code}: a list may "
                                                      "hold only literals (numbers, 'text', True, False, None, "
                                                      'lists), not code')
    assert not marker.exists() and not (tmp_path / 'experiments').exists()


def test_force_yml_keys_that_would_be_code_to_basicsr_are_refused(tmp_path):
    """BasicSR runs ``opt["<key>"]...=value`` as code: a key with a quote would end the string."""
    options_file = write_options(tmp_path / 'ok.yml', tiny_train_options('ok', ('lq', 'gt'), ('lq', 'gt')))
    for entry in (f"""name"];__import__('os').mkdir('{tmp_path / 'pwned'}');#=1""", 'val:a\\b=1', 'na\nme=1'):
        with pytest.raises(InputError, match=re.escape(f'--force_yml {entry}: a key may not hold quotes, '
                                                       'backslashes or control characters')):
            check_options_argv(['-opt', options_file, '--force_yml', entry], is_train=True)


@pytest.fixture
def fake_weights(tmp_path):
    """An image to enhance and a weights file that is never read: the options are read first."""
    write_pairs(str(tmp_path), ['photo'])
    (tmp_path / 'net.pth').write_bytes(b'')
    return str(tmp_path / 'low' / 'photo.png'), str(tmp_path / 'net.pth')


def test_enhance_refuses_a_python_tag_given_or_beside_the_weights(tmp_path, fake_weights):
    image, weights = fake_weights
    marker = tmp_path / 'pwned'
    for options in ([], ['-opt', python_tag_file(tmp_path / 'shared.yml', marker)]):
        beside = python_tag_file(tmp_path / 'net.yml', marker)
        message = refusal(lambda: enhance_main(['-i', image, '-o', str(tmp_path / 'out'), '--weights', weights,
                                                *options]))
        named = options[-1] if options else beside
        assert message == f'msiagan-enhance: error: {named}, line 4: tag !!python/object/apply:os.system {REFUSED}'
    assert not marker.exists()


def test_enhance_refuses_code_in_a_recorded_force_yml(tmp_path, fake_weights):
    """BasicSR's copy of an options file records the command line; its network_g changes are applied."""
    image, weights = fake_weights
    marker = tmp_path / 'pwned'
    code = f"[__import__('os').mkdir('{marker}')]"  # no spaces: the recorded command line is split at them
    (tmp_path / 'net.yml').write_text(f'# CMD:\n# train.py -opt x.yml --force_yml network_g:act={code}\n\n'
                                      'network_g: {type: MSIAGenerator}\n')
    message = refusal(lambda: enhance_main(['-i', image, '-o', str(tmp_path / 'out'), '--weights', weights]))
    assert message == (f"msiagan-enhance: error: --force_yml value {code}: a list may hold only literals (numbers, "
                       "'text', True, False, None, lists), not code")
    assert not marker.exists()


def test_scripts_refuse_a_python_tag(tmp_path, fake_weights, monkeypatch):
    marker = tmp_path / 'pwned'
    options_file = python_tag_file(tmp_path / 'shared.yml', marker)
    expected = f'error: {options_file}, line 4: tag !!python/object/apply:os.system {REFUSED}'
    compare, benchmark_speed = load_script('compare'), load_script('benchmark_speed')
    runs = {
        'compare.py': (['--data', str(tmp_path), '--out', str(tmp_path / 'out'), '--model', 'x', options_file,
                        fake_weights[1]], compare.compare),
        'benchmark_speed.py': (['-opt', options_file, '--threads', str(torch.get_num_threads())],
                               benchmark_speed.benchmark),
    }
    for program, (argv, function) in runs.items():
        monkeypatch.setattr(sys, 'argv', [program, *argv])
        assert refusal(lambda: run_cli(program, function)) == f'{program}: {expected}'
    benchmark_data = load_script('benchmark_data')
    assert refusal(lambda: benchmark_data.main(['-opt', options_file])) == f'benchmark_data.py: {expected}'
    with pytest.raises(InputError, match=f'^{re.escape(expected[len("error: "):])}$'):
        check_options_argv(['-opt', options_file], is_train=True)
    assert not marker.exists()
