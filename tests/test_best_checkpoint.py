"""scripts/metrics/best_checkpoint.py: the best validation's checkpoint across a run's logs (resumed runs too)."""
from conftest import load_script, run_script

best_checkpoint = load_script('best_checkpoint')


OPTIONS = 'INFO:\n  train:[\n    total_iter: 2000\n'


def validation(psnr, best, at):
    return f'INFO: Validation LOL-v1-val\n\t # psnr: {psnr}\tBest: {best} @ {at} iter\n\t # ssim: 0.7\tBest: 0.7 @ 500 iter\n'


def experiment(tmp_path, logs, saved):
    (tmp_path / 'models').mkdir()
    for name in saved:
        (tmp_path / 'models' / f'net_g_{name}.pth').write_bytes(b'')
    for time, text in logs.items():
        (tmp_path / f'train_run_20261130_{time}.log').write_text(text)
    return str(tmp_path)


def test_the_best_of_all_logs_of_a_resumed_run(tmp_path):
    logs = {'090000': OPTIONS + validation(18.1, 18.1, 500) + validation(18.9, 18.9, 1000),
            '100000': OPTIONS + validation(19.3, 19.3, 1500) + validation(19.0, 19.3, 1500),  # resumed from 1000
            '110000': OPTIONS + validation(19.2, 19.2, 2002)}
    assert best_checkpoint.best_checkpoint(experiment(tmp_path, logs, [500, 1000, 1500, 2000, 'latest'])) == '1500'


def test_a_best_final_validation_is_the_latest_generator(tmp_path):
    logs = {'090000': OPTIONS + validation(18.1, 18.1, 1500) + validation(18.9, 18.9, 2001)}
    assert best_checkpoint.best_checkpoint(experiment(tmp_path, logs, [1500, 2000, 'latest'])) == 'latest'


def test_no_validation_is_one_line(tmp_path):
    folder = experiment(tmp_path, {'090000': 'INFO: Start training\n'}, [])
    assert run_script(best_checkpoint, folder) == (f'best_checkpoint.py: error: {folder}: its logs record no '
                                                   'validation of psnr')


def test_a_best_validation_without_its_checkpoint_is_refused(tmp_path):
    logs = {'090000': OPTIONS + validation(18.9, 18.9, 300) + validation(18.1, 18.9, 300)}
    folder = experiment(tmp_path, logs, [200, 400, 'latest'])  # validations every 100, checkpoints every 200
    assert run_script(best_checkpoint, folder) == (f"best_checkpoint.py: error: {folder}: the best validation's "
                                                   'generator (iteration 300) was not saved: validations and '
                                                   'checkpoints at different iterations?')
