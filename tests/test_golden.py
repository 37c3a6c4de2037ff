"""The generators of golden_outputs.CASES, eager and through the fast path, give their stored outputs.

A failure means the network computes something else. If that is meant, regenerate the values with
``python tests/golden_outputs.py --why '...' [case]`` and commit them with the change.
"""
import pytest

from golden_outputs import CASES, build_case, compute, differences, load_golden

from msiagan.inference.fast_inference import optimize_for_inference


@pytest.fixture(scope='module', params=list(CASES))
def case(request):
    """(name, float64 generator, stored record) of one case."""
    return request.param, build_case(request.param), load_golden(request.param)


@pytest.mark.parametrize('path', ['eager', 'fast'])
def test_output_matches_the_stored_values(case, path):
    name, net, stored = case
    net = optimize_for_inference(net) if path == 'fast' else net
    changed = differences(stored, compute(name, net))
    assert not changed, (f'{name}, {path}: {len(changed)} value(s) differ from tests/golden/{name}.json, e.g. '
                         + '; '.join(f'{field}: stored {old:.9g}, now {new:.9g}' for field, old, new in changed[:3]))


def test_stored_cases_are_the_defined_ones():
    """Each file records the case it was made from, so a changed definition without new values is caught."""
    for name, definition in CASES.items():
        assert load_golden(name)['case'] == definition, f'{name}: regenerate tests/golden/{name}.json'
