"""scripts/metrics/best_checkpoint.py: the best validation's checkpoint across a run's logs (resumed runs too), on one
validation set, optionally among iterations where others score at least given values."""
from conftest import load_script, run_script

best_checkpoint = load_script('best_checkpoint')


def progress(iteration):
    return f'INFO: [MSIAG..][epoch:  1, iter: {iteration:>7,}, lr:(1.0e-04,)] [eta: 0:01:00] l_g_total: 1.0e+00\n'


def validation(psnr, name='LOL-v1-val', ssim=0.7):
    return f'INFO: Validation {name}\n\t # psnr: {psnr}\tBest: 99 @ 1 iter\n\t # ssim: {ssim}\tBest: 0.9 @ 1 iter\n\n'


def rounds(*scores, name='LOL-v1-val'):
    """Progress and validation lines: scores is (iteration, psnr) ... or (iteration, {set: psnr}) ..."""
    text = ''
    for iteration, psnr in scores:
        text += progress(iteration) + ''.join(validation(value, n) for n, value in (
            psnr.items() if isinstance(psnr, dict) else [(name, psnr)]))
    return text


def chosen(capsys, folder, *args):
    """What the script prints for ``folder`` and ``args``, or the one-line error it exits with."""
    error = run_script(best_checkpoint, folder, *args)
    return error or capsys.readouterr().out.strip()


def experiment(tmp_path, logs, saved):
    (tmp_path / 'models').mkdir()
    for name in saved:
        (tmp_path / 'models' / f'net_g_{name}.pth').write_bytes(b'')
    for time, text in logs.items():
        (tmp_path / f'train_run_20261130_{time}.log').write_text(text)
    return str(tmp_path)


def test_the_best_of_all_logs_of_a_resumed_run(tmp_path):
    logs = {'090000': rounds((500, 18.1), (1000, 18.9)),
            '100000': rounds((1500, 19.3), (2000, 19.0)),  # resumed from 1000
            '110000': rounds((2500, 19.2))}
    assert best_checkpoint.best_checkpoint(experiment(tmp_path, logs, [500, 1000, 1500, 2000, 2500])) == '1500'


def test_a_best_final_validation_is_the_latest_generator(tmp_path):
    logs = {'090000': rounds((1500, 18.1)) + 'INFO: End of training. Time consumed: 0:10:00\n' + validation(18.9)}
    assert best_checkpoint.best_checkpoint(experiment(tmp_path, logs, [1500, 'latest'])) == 'latest'


def test_ties_go_to_the_earliest_and_ssim_can_choose(tmp_path, capsys):
    text = (rounds((500, 18.5), (1000, 18.5)) + progress(1500) + validation(18.0, ssim=0.8)
            + 'INFO: End of training.\n' + validation(18.0, ssim=0.8))
    folder = experiment(tmp_path, {'090000': text}, [500, 1000, 1500, 'latest'])
    assert best_checkpoint.best_checkpoint(folder) == '500'
    assert chosen(capsys, folder, '--metric', 'ssim') == '1500'


def test_one_set_chooses_among_iterations_where_the_others_hold_up(tmp_path, capsys):
    text = rounds((500, {'val': 22.0, 'references-in': 15.0, 'dark': 20.0}),
                  (1000, {'val': 22.6, 'references-in': 14.0, 'dark': 21.0}),
                  (1500, {'val': 22.4, 'references-in': 16.0, 'dark': 20.6}),
                  (2000, {'val': 22.3, 'references-in': 17.0, 'dark': 21.0}))
    folder = experiment(tmp_path, {'090000': text}, [500, 1000, 1500, 2000])
    assert chosen(capsys, folder) == '1000'  # the first set validated
    assert chosen(capsys, folder, '--dataset', 'dark') == '1000'
    assert chosen(capsys, folder, '--at-least', 'references-in=15.04', 'dark=20.54') == '1500'
    assert chosen(capsys, folder, '--at-least', 'references-in=18') == (
        f'best_checkpoint.py: error: {folder}: no validation has references-in psnr >= 18')
    assert chosen(capsys, folder, '--dataset', 'eval') == (
        f"best_checkpoint.py: error: {folder}: no validation set 'eval' in its logs (they name: val, references-in, "
        "dark)")


def test_no_validation_is_one_line(tmp_path):
    folder = experiment(tmp_path, {'090000': 'INFO: Start training\n'}, [])
    assert run_script(best_checkpoint, folder) == (f'best_checkpoint.py: error: {folder}: its logs record no '
                                                   'validation of psnr')


def test_a_best_validation_without_its_checkpoint_is_refused(tmp_path):
    logs = {'090000': rounds((300, 18.9), (400, 18.1))}
    folder = experiment(tmp_path, logs, [200, 400, 'latest'])  # validations every 100, checkpoints every 200
    assert run_script(best_checkpoint, folder) == (f"best_checkpoint.py: error: {folder}: the best validation's "
                                                   'generator (net_g_300.pth) was not saved: validations and '
                                                   'checkpoints at different iterations?')
