"""scripts/benchmarks/benchmark_data.py on a tiny generated dataset and model (the figures themselves are not checked)."""
import re

from conftest import load_script, run_script, tiny_train_options, write_options, write_pairs

benchmark_data = load_script('benchmark_data')


def test_prints_loading_speeds_and_the_wait_share(tmp_path, capsys):
    lq_dir, gt_dir = write_pairs(str(tmp_path / 'data'), ['a', 'b', 'c'], size=(40, 40))
    load_script('create_lmdb').main(['--lq', lq_dir, '--gt', gt_dir])
    options = write_options(tmp_path / 'tiny.yml', tiny_train_options('tiny', ('x', 'x'), ('x', 'x')))
    benchmark_data.main(['-opt', options, '--disk', lq_dir, gt_dir, '--workers', '0', '--batches', '4',
                         '--iters', '1', '--train-backend', 'lmdb'])
    printed = capsys.readouterr().out
    assert 'tiny.yml: crops 32, batch 2, 0 workers' in printed
    for backend in ('disk', 'lmdb'):
        assert re.search(rf'{backend}: .* 3 pairs: [\d.]+ pairs/s \(4 batches\)', printed), printed
    assert re.search(r'training on the CPU from lmdb: [\d.]+ s per iteration, of which [\d.]+ s waiting for data '
                     r'\([\d.]+%; 1 iterations\)', printed), printed


def test_missing_lmdb_is_named(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path / 'data'), ['a'], size=(40, 40))
    options = write_options(tmp_path / 'tiny.yml', tiny_train_options('tiny', ('x', 'x'), ('x', 'x')))
    error = run_script(benchmark_data, '-opt', options, '--disk', lq_dir, gt_dir, '--workers', 0, '--iters', 0)
    assert error == f'benchmark_data.py: error: {lq_dir}.lmdb: not an LMDB with a meta_info.txt'
