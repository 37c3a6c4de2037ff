"""scripts/model_conversion/export_weights.py: training checkpoint -> release weights ('params' only) and their options file."""
import torch
import yaml
from conftest import load_script, run_script

from msiagan.archs import MSIAGenerator
from msiagan.inference import load_generator, load_network_options
from msiagan.utils.weights import find_options

export_weights = load_script('export_weights')
NETWORK = {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'lrelu'}


def experiment(root, network=NETWORK):
    """root/models/net_g_10.pth (params and params_ema differ) and BasicSR's options copy, which records a
    --force_yml change to network_g on its # CMD: line."""
    (root / 'models').mkdir(parents=True)
    torch.manual_seed(0)
    net = MSIAGenerator(num_feat=8, act='gelu')
    checkpoint = root / 'models' / 'net_g_10.pth'
    torch.save({'params': MSIAGenerator(num_feat=8, act='gelu').state_dict(), 'params_ema': net.state_dict()},
               checkpoint)
    (root / 'train.yml').write_text('# GENERATE TIME: now\n# CMD:\n# msiagan/train.py -opt o.yml --force_yml '
                                    'network_g:act=gelu\n\n' + yaml.safe_dump({'network_g': network}))
    return checkpoint, net.eval()


def test_exports_ema_weights_under_params_with_the_options_that_build_them(tmp_path):
    checkpoint, trained = experiment(tmp_path / 'exp')
    out = tmp_path / 'release' / 'model.pth'
    assert run_script(export_weights, checkpoint, '--out', out) is None
    assert list(torch.load(out, weights_only=True)) == ['params']
    assert find_options(str(out)) == str(tmp_path / 'release' / 'model.yml')
    header = (tmp_path / 'release' / 'model.yml').read_text().splitlines()[0]
    assert header.endswith(f'its weights are params_ema of {checkpoint}.')
    options = load_network_options(find_options(str(out)))
    assert options == dict(NETWORK, act='gelu')  # the recorded override travels with the weights
    released = load_generator(options, str(out), 'params')
    x = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        assert torch.equal(released(x), trained(x))


def test_weights_that_do_not_fit_stop_before_anything_is_written(tmp_path):
    checkpoint, _ = experiment(tmp_path / 'exp', dict(NETWORK, num_feat=16))
    out = tmp_path / 'model.pth'
    error = run_script(export_weights, checkpoint, '--out', out)
    assert str(checkpoint) in error and 'does not fit network_g' in error
    assert not out.exists() and not (tmp_path / 'model.yml').exists()


def test_output_names_are_checked(tmp_path):
    checkpoint, _ = experiment(tmp_path / 'exp')
    assert '--out' in run_script(export_weights, checkpoint, '--out', tmp_path / 'model.pt')
    error = run_script(export_weights, checkpoint, '--out', tmp_path / 'exp' / 'train.pth',
                       '-opt', tmp_path / 'exp' / 'train.yml')
    assert 'would overwrite' in error


def test_the_options_header_names_the_weights_exported(tmp_path):
    checkpoint, _ = experiment(tmp_path / 'exp')
    out = tmp_path / 'model.pth'
    assert run_script(export_weights, checkpoint, '--out', out, '--param-key', 'params') is None
    assert (tmp_path / 'model.yml').read_text().splitlines()[0].endswith(f'its weights are params of {checkpoint}.')
    assert run_script(export_weights, out, '--out', tmp_path / 'again.pth', '-opt', tmp_path / 'model.yml') is None
    assert f'its weights are params of {out}.' in (tmp_path / 'again.yml').read_text().splitlines()[0]
