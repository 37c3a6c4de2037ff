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


def with_condition(root, name, seed, condition_seed=0):
    """root/name: a generator with an exposure condition (seed), its condition from condition_seed; and its state."""
    torch.manual_seed(seed)
    state = MSIAGenerator(num_feat=8, exposure_condition=True).state_dict()
    torch.manual_seed(condition_seed)
    condition = MSIAGenerator(num_feat=8, exposure_condition=True).state_dict()
    state.update({key: tensor for key, tensor in condition.items() if key.startswith('exposure_condition')})
    torch.save({'params': state}, root / name)
    return root / name, state


def test_frozen_extras_are_copied_from_the_checkpoints_that_hold_them(tmp_path):
    paths, nets = checkpoints(tmp_path, 1)
    first, first_state = with_condition(tmp_path, 'a.pth', 1)
    second, second_state = with_condition(tmp_path, 'b.pth', 2)
    out = tmp_path / 'soup.pth'
    refused = run_script(average_checkpoints, paths[0], first, '--param-key', 'params', '--out', out)
    assert 'differ from' in refused and '--frozen-extras' in refused and not out.exists()
    assert run_script(average_checkpoints, paths[0], first, second, '--param-key', 'params', '--frozen-extras',
                      '--weights', '2', '1', '1', '--out', out) is None
    soup = torch.load(out, weights_only=True)['params']
    extras = {key for key in first_state if key.startswith('exposure_condition')}
    assert extras and soup.keys() == first_state.keys()
    for key, tensor in soup.items():
        if key in extras:
            assert torch.equal(tensor, first_state[key]), key
        else:
            expected = (2 * nets[0].state_dict()[key].double() + first_state[key].double()
                        + second_state[key].double()) / 4
            assert torch.allclose(tensor.double(), expected, atol=1e-7), key
    MSIAGenerator(num_feat=8, exposure_condition=True).load_state_dict(soup)


def test_frozen_extras_that_differ_between_holders_are_named(tmp_path):
    paths, _ = checkpoints(tmp_path, 1)
    first, _ = with_condition(tmp_path, 'a.pth', 1)
    other, _ = with_condition(tmp_path, 'b.pth', 2, condition_seed=5)
    out = tmp_path / 'soup.pth'
    message = run_script(average_checkpoints, paths[0], first, other, '--frozen-extras', '--out', out)
    assert message.startswith(f'average_checkpoints.py: error: {other}: exposure_condition')
    assert f'differs from {first}' in message
    assert not out.exists()


@pytest.mark.parametrize('odd, error', [
    (lambda state: {f'module.{key}': tensor for key, tensor in state.items()}, 'shares no tensor'),
    (lambda state: {key: tensor.double() if key.startswith('exposure_condition') else tensor
                    for key, tensor in state.items()}, 'differs from'),
], ids=['no tensor in common', 'another dtype'])
def test_frozen_extras_refuse_checkpoints_of_another_model_or_dtype(tmp_path, odd, error):
    paths, _ = checkpoints(tmp_path, 1)  # without the condition: it is an extra
    first, state = with_condition(tmp_path, 'a.pth', 1)
    other = tmp_path / 'b.pth'
    torch.save({'params': odd(state)}, other)
    out = tmp_path / 'soup.pth'
    message = run_script(average_checkpoints, paths[0], first, other, '--param-key', 'params', '--frozen-extras',
                         '--out', out)
    assert message.startswith(f'average_checkpoints.py: error: {other}:') and error in message, message
    assert not out.exists()
