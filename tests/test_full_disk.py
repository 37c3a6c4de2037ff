"""A full disk (or another failing write) stops a run with one line naming the file and the cause, and loses
nothing that was saved: checkpoints, the run's other files, and the writers under them."""
import builtins
import errno
import glob
import logging
import os
import re
import threading
from os import path as osp

import lmdb
import pytest
import torch
from conftest import (REPO, FullDiskOpen, HalfWrittenFile, feed, finished_output, make_model, no_space_error,
                      start_training, tiny_train_options, write_options, write_pairs)

import msiagan.utils.writing
from msiagan.basicsr_patches.resume import latest_training_state
from msiagan.basicsr_patches.run_files import TolerantSummaryWriter, quiet_tensorboard_threads, stop_on_write_errors
from msiagan.utils.errors import OutputError
from msiagan.utils.writing import cause, write_atomically

FULL_DISK_RUN = osp.join(REPO, 'tests', 'run_on_full_disk.py')


def test_a_checkpoint_that_cannot_be_written_stops_at_once_and_keeps_the_last_state(tmp_path, monkeypatch):
    model = make_model(tmp_path)
    os.makedirs(tmp_path / 'models')
    os.makedirs(tmp_path / 'states')
    feed(model)
    model.save(0, 2)
    written = []

    def write_on_full_disk(path, data):
        written.append(osp.basename(path))
        if 'net_d' in str(path):
            raise no_space_error()
        write_atomically(path, data)

    monkeypatch.setattr(msiagan.utils.writing, 'write_atomically', write_on_full_disk)
    with pytest.raises(OutputError, match=r'^\S*net_d_4\.pth: cannot write \(no space left on device\); training '
                       r'stopped at iteration 4, .* --auto_resume continues from the last one$'):
        model.save(0, 4)
    assert written == ['net_g_4.pth', 'net_d_4.pth']  # no retry, and nothing more of that checkpoint
    assert os.listdir(tmp_path / 'states') == ['2.state']
    assert latest_training_state(str(tmp_path / 'states'), model.opt) == str(tmp_path / 'states' / '2.state')
    with pytest.raises(OutputError, match=r'net_d_latest\.pth: cannot write .*; training ended without its final '
                       'weights'):
        model.save(-1, -1)


def test_a_first_checkpoint_that_cannot_be_written_says_no_state_was_saved(tmp_path, monkeypatch):
    model = make_model(tmp_path)
    os.makedirs(tmp_path / 'models')
    os.makedirs(tmp_path / 'states')
    feed(model)

    def write_on_full_disk(path, data):
        raise no_space_error()

    monkeypatch.setattr(msiagan.utils.writing, 'write_atomically', write_on_full_disk)
    with pytest.raises(OutputError, match=r'^\S*net_g_2\.pth: cannot write \(no space left on device\); training '
                       r'stopped at iteration 2, and no training state was saved before: a rerun starts from the '
                       r'beginning$'):
        model.save(0, 2)


def test_a_save_cut_short_by_a_full_disk_says_so_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'net.pth'
    msiagan.utils.writing.atomic_save({'w': torch.ones(3)}, path)
    monkeypatch.setattr(builtins, 'open', FullDiskOpen('net.pth'))
    with pytest.raises(OSError) as raised:
        msiagan.utils.writing.atomic_save({'w': torch.zeros(1000)}, path)
    assert raised.value.errno == errno.ENOSPC
    assert torch.equal(torch.load(path, weights_only=True)['w'], torch.ones(3))
    assert os.listdir(tmp_path) == ['net.pth']


def checkpointing_options(root):
    """A 4-iteration run that saves a state at iterations 2 and 4 and validation images at 2 and 4."""
    train_dirs = write_pairs(str(root / 'train'), ['a', 'b'], size=(40, 40))
    val_dirs = write_pairs(str(root / 'val'), ['v'], size=(32, 32), seed=1)
    opt = tiny_train_options('full', train_dirs, val_dirs, total_iter=4)
    opt['val']['save_img'] = True
    return write_options(root / 'full.yml', opt)


def test_a_run_folder_that_cannot_be_made_stops_the_run_in_one_line(tmp_path):
    options = checkpointing_options(tmp_path)
    (tmp_path / 'experiments').write_text('a file where the experiment folders go')
    output = finished_output(start_training(tmp_path, options))
    assert output.splitlines()[-1] == (f'msiagan-train: error: {tmp_path}/experiments/full: cannot prepare the run '
                                       'folder (not a directory)'), output[-3000:]
    assert 'Traceback' not in output


def test_training_stops_where_the_disk_is_full_and_auto_resume_continues(tmp_path):
    options = checkpointing_options(tmp_path)
    stopped = start_training(tmp_path, options, (FULL_DISK_RUN, '*/training_states/4.state.tmp'))
    output = finished_output(stopped)
    experiment = tmp_path / 'experiments' / 'full'
    assert stopped.returncode == 1, output[-3000:]
    assert re.fullmatch(r'msiagan-train: error: \S+/training_states/4\.state: cannot write \(no space left on '
                        r'device\); training stopped at iteration 4, .*', output.splitlines()[-1]), output[-3000:]
    assert 'Traceback' not in output and 'Just ignore it' not in output
    assert sorted(os.listdir(experiment / 'training_states')) == ['2.state']
    resumed = start_training(tmp_path, options, (), '--auto_resume')
    output = finished_output(resumed)
    assert resumed.returncode == 0, output[-3000:]
    assert 'Resuming training from epoch: 0, iter: 2.' in output
    assert sorted(os.listdir(experiment / 'training_states')) == ['2.state', '4.state']
    assert {'net_g_latest.pth', 'net_d_latest.pth'} <= set(os.listdir(experiment / 'models'))


@pytest.mark.parametrize('pattern, named', [
    ('*/visualization/v/v_2.png*', r'visualization/v/v_2\.png'),  # a validation image (save_img: true)
    ('*/experiments/full/*full.yml', r'experiments/full/full\.yml'),  # the options copy
    ('*/train_full_*.log', r'experiments/full/train_full_\S+\.log'),  # the log file
])
def test_any_file_the_run_must_write_stops_it_with_one_line(tmp_path, pattern, named):
    stopped = start_training(tmp_path, checkpointing_options(tmp_path), (FULL_DISK_RUN, pattern))
    output = finished_output(stopped)
    assert stopped.returncode == 1, output[-3000:]
    assert re.fullmatch(rf'msiagan-train: error: \S*{named}: cannot write \(no space left on device\).*',
                        output.splitlines()[-1]), output[-3000:]
    assert 'Traceback' not in output
    assert not glob.glob(str(tmp_path / 'experiments' / '**' / '*.tmp'), recursive=True)


def test_a_log_file_that_stops_taking_lines_stops_the_run(tmp_path):
    handler = logging.FileHandler(tmp_path / 'train.log')
    stop_on_write_errors(handler)
    handler.stream = HalfWrittenFile(handler.stream)
    logger = logging.getLogger('msiagan.test_full_disk')
    logger.addHandler(handler)
    try:
        with pytest.raises(OutputError, match=r'^\S+/train\.log: cannot write \(no space left on device\)$'):
            logger.warning('a line')
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_tensorboard_that_cannot_be_written_is_dropped_with_one_warning(caplog):

    class FullDiskWriter:
        log_dir = 'tb_logger/full'
        calls = 0

        def add_scalar(self, *args):
            self.calls += 1
            raise no_space_error()

    writer = FullDiskWriter()
    tolerant = TolerantSummaryWriter(writer)
    logger = logging.getLogger('basicsr')  # BasicSR's root logger does not propagate to caplog's
    logger.addHandler(caplog.handler)
    try:
        for step in (1, 2):
            tolerant.add_scalar('losses/l_g_pix', 1.0, step)
        tolerant.close()
    finally:
        logger.removeHandler(caplog.handler)
    assert writer.calls == 1
    assert [record.getMessage() for record in caplog.records] == [
        'tensorboard log tb_logger/full: cannot write (no space left on device); training goes on without it']


def test_a_full_disk_behind_a_librarys_own_message_is_named(tmp_path, monkeypatch):
    lmdb_error = lmdb.Error('mdb_txn_commit: Input/output error')  # LMDB's word for a write cut short
    assert cause(lmdb_error, tmp_path / 'low.lmdb') == 'mdb_txn_commit: Input/output error'
    assert cause(PermissionError(errno.EACCES, os.strerror(errno.EACCES)), tmp_path) == 'permission denied'
    monkeypatch.setattr(msiagan.utils.writing, 'free_bytes', lambda path: 4096)
    assert cause(lmdb_error, tmp_path / 'low.lmdb') == 'no space left on device'


def test_a_tensorboard_writer_thread_that_fails_prints_no_traceback(tmp_path, caplog, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    class FullDiskRecords:

        def write(self, data):
            raise no_space_error()

        flush = close = write

    printed = []  # the threads whose traceback would be printed
    monkeypatch.setattr(threading, 'excepthook', lambda args: printed.append(type(args.thread).__name__))
    threading.excepthook = quiet_tensorboard_threads(threading.excepthook)
    writer = SummaryWriter(str(tmp_path / 'tb'))
    writer_thread = writer.file_writer.event_writer._async_writer._worker
    writer_thread._record_writer = FullDiskRecords()
    tolerant = TolerantSummaryWriter(writer)
    logger = logging.getLogger('basicsr')
    logger.addHandler(caplog.handler)
    try:
        tolerant.add_scalar('losses/l_g_pix', 1.0, 1)
        writer_thread.join(timeout=10)  # it dies of the failure
        tolerant.add_scalar('losses/l_g_pix', 1.0, 2)
        tolerant.close()
    finally:
        logger.removeHandler(caplog.handler)
    assert not writer_thread.is_alive() and printed == []
    assert [record.getMessage() for record in caplog.records] == [
        f'tensorboard log {tmp_path / "tb"}: cannot write (no space left on device); training goes on without it']
    other = threading.Thread(target=lambda: 1 / 0)  # any other thread's failure is still printed
    other.start()
    other.join()
    assert printed == ['Thread']
