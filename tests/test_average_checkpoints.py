"""scripts/model_conversion/average_checkpoints.py: the uniform mean of several checkpoints' generator weights."""
import pytest
import torch
from conftest import load_script, run_script

from msiagan.archs import MSIAGenerator

average_checkpoints = load_script('average_checkpoints')


def checkpoints(root, count=3):
    """root/net_g_<i>.pth for i < count, generators of different random weights, under 'params' and 'params_ema'."""
    paths, nets = [], []
    for i in range(count):
        torch.manual_seed(i)
        net = MSIAGenerator(num_feat=8)
        path = root / f'net_g_{i}.pth'
        torch.save({'params': net.state_dict(), 'params_ema': {k: v + 1 for k, v in net.state_dict().items()}}, path)
        paths.append(path)
        nets.append(net)
    return paths, nets


def test_writes_the_mean_of_each_tensor_under_params(tmp_path):
    paths, nets = checkpoints(tmp_path)
    out = tmp_path / 'average' / 'net_g_average.pth'
    assert run_script(average_checkpoints, *paths, '--param-key', 'params', '--out', out) is None
    average = torch.load(out, weights_only=True)
    assert list(average) == ['params']
    for key, tensor in average['params'].items():
        expected = sum(net.state_dict()[key].double() for net in nets) / len(nets)
        assert tensor.dtype == nets[0].state_dict()[key].dtype
        assert torch.allclose(tensor.double(), expected, atol=1e-7), key
    MSIAGenerator(num_feat=8).load_state_dict(average['params'])  # builds like any checkpoint


def test_reads_params_ema_by_default(tmp_path):
    paths, nets = checkpoints(tmp_path, 2)
    out = tmp_path / 'average.pth'
    assert run_script(average_checkpoints, *paths, '--out', out) is None
    key = next(iter(nets[0].state_dict()))
    expected = (nets[0].state_dict()[key] + nets[1].state_dict()[key]) / 2 + 1
    assert torch.allclose(torch.load(out, weights_only=True)['params'][key], expected, atol=1e-6)


@pytest.mark.parametrize('other, error', [
    (lambda: MSIAGenerator(num_feat=16).state_dict(), 'is (16,'),
    (lambda: dict(list(MSIAGenerator(num_feat=8).state_dict().items())[:-1]), 'differ from'),
])
def test_checkpoints_that_do_not_match_are_named_and_nothing_is_written(tmp_path, other, error):
    paths, _ = checkpoints(tmp_path, 1)
    odd = tmp_path / 'odd.pth'
    torch.save({'params': other()}, odd)
    out = tmp_path / 'average.pth'
    message = run_script(average_checkpoints, paths[0], odd, '--out', out)
    assert message.startswith(f'average_checkpoints.py: error: {odd}:') and error in message
    assert not out.exists()


def test_refuses_one_checkpoint_and_overwriting_an_input(tmp_path):
    paths, _ = checkpoints(tmp_path, 2)
    assert 'at least two' in run_script(average_checkpoints, paths[0], '--out', tmp_path / 'a.pth')
    assert 'is one of the checkpoints' in run_script(average_checkpoints, *paths, '--out', paths[1])


def test_float64_weights_are_averaged_without_changing_the_first_checkpoint():
    first, second = {'w': torch.tensor([1.0, 3.0], dtype=torch.float64)}, {'w': torch.tensor([3.0, 5.0], dtype=torch.float64)}
    average = average_checkpoints.average_state_dicts([('a.pth', first), ('b.pth', second)])
    assert torch.equal(average['w'], torch.tensor([2.0, 4.0], dtype=torch.float64))
    assert torch.equal(first['w'], torch.tensor([1.0, 3.0], dtype=torch.float64))


def test_weights_interpolate_between_checkpoints_and_are_divided_by_their_sum(tmp_path):
    paths, nets = checkpoints(tmp_path, 2)
    out = tmp_path / 'interpolated.pth'
    assert run_script(average_checkpoints, *paths, '--param-key', 'params', '--weights', '3', '1', '--out', out) is None
    interpolated = torch.load(out, weights_only=True)['params']
    for key, tensor in interpolated.items():
        expected = 0.75 * nets[0].state_dict()[key].double() + 0.25 * nets[1].state_dict()[key].double()
        assert torch.allclose(tensor.double(), expected, atol=1e-7), key


@pytest.mark.parametrize('weights, error', [(['1'], '1 numbers for 2 checkpoints'), (['1', '-1'], 'non-negative'),
                                            (['0', '0'], 'not all 0')])
def test_bad_weights_are_named_and_nothing_is_written(tmp_path, weights, error):
    paths, _ = checkpoints(tmp_path, 2)
    out = tmp_path / 'interpolated.pth'
    message = run_script(average_checkpoints, *paths, '--weights', *weights, '--out', out)
    assert message.startswith('average_checkpoints.py: error: --weights') and error in message
    assert not out.exists()
