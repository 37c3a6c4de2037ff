"""The files a training or test run writes besides checkpoints (msiagan.models.atomic_checkpoint), on a disk that
fails.

BasicSR 1.4.2, when one cannot be written, crashes with a traceback (the options copy, a validation image,
the tensorboard log) or prints a traceback for each log line and goes on (the log file). The replacements here
stop the run with an OutputError naming the file and the cause, except for the tensorboard log, which the run does
not need: it is dropped with one warning (and its writer thread's traceback is not printed). A run folder that
cannot be made (or an old one moved aside) stops the run the same way. msiagan.basicsr_patches.install puts them
in BasicSR's pipelines.
"""
import functools
import logging
import os
import shutil
import sys
from os import path as osp

from basicsr import train as basicsr_train
from basicsr.utils import get_root_logger
from basicsr.utils.dist_util import master_only

from msiagan.utils.errors import OutputError
from msiagan.utils.writing import cause, write_failure, write_image_atomically

BASICSR_COPY_OPT_FILE = basicsr_train.copy_opt_file
BASICSR_INIT_TB_LOGGERS = basicsr_train.init_tb_loggers
BASICSR_MAKE_EXP_DIRS = basicsr_train.make_exp_dirs
BASICSR_MKDIR_AND_RENAME = basicsr_train.mkdir_and_rename


@master_only
def copy_options_file(opt_file, experiments_root):
    """BasicSR's ``copy_opt_file`` (the options file with the command line atop, into ``experiments_root``),
    written whole or not at all: made in a temporary folder, then renamed. By process 0 alone, which made
    ``experiments_root`` (BasicSR has every process write it)."""
    target = osp.join(experiments_root, osp.basename(opt_file))
    staging = osp.join(experiments_root, '.options_copy.tmp')
    try:
        os.makedirs(staging, exist_ok=True)
        BASICSR_COPY_OPT_FILE(opt_file, staging)
        os.replace(osp.join(staging, osp.basename(opt_file)), target)
    except OSError as error:
        raise write_failure(target, error) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def stop_on_write_errors(handler):
    """Make a logging.FileHandler raise an OutputError when it cannot write (logging would print a traceback
    and go on)."""

    def handle_error(record):
        raise write_failure(handler.baseFilename, sys.exc_info()[1])

    handler.handleError = handle_error


def get_root_logger_stopping_on_write_errors(logger_name='basicsr', log_level=logging.INFO, log_file=None):
    """BasicSR's ``get_root_logger``, whose log file stops the run when it cannot be made or written."""
    try:
        logger = get_root_logger(logger_name, log_level, log_file)
    except OSError as error:
        raise write_failure(log_file, error) from None
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            stop_on_write_errors(handler)
    return logger


def warn_tensorboard_dropped(log_dir, error):
    get_root_logger().warning(f'tensorboard log {log_dir}: cannot write ({cause(error, log_dir)}); training goes '
                              'on without it')


class TolerantSummaryWriter:
    """A tensorboard SummaryWriter whose first failure is a warning and ends its use: the run goes on."""

    def __init__(self, writer):
        self.writer = writer

    def __getattr__(self, name):

        def call(*args, **kwargs):
            if self.writer is None:
                return None
            try:
                return getattr(self.writer, name)(*args, **kwargs)
            except Exception as error:
                log_dir, self.writer = self.writer.log_dir, None
                warn_tensorboard_dropped(log_dir, error)
                return None

        return call


def quiet_tensorboard_threads(excepthook):
    """``threading.excepthook`` that, unlike ``excepthook``, prints no traceback for a tensorboard writer thread
    that fails. The failure is not lost: the writer's next call (at the latest ``close`` at the end of training)
    raises it, and TolerantSummaryWriter makes it the one warning."""
    if getattr(excepthook, 'quiets_tensorboard', False):
        return excepthook

    def quiet_excepthook(args):
        if not type(args.thread).__module__.startswith('tensorboard.'):
            excepthook(args)

    quiet_excepthook.quiets_tensorboard = True
    return quiet_excepthook


def init_tb_loggers(opt):
    """BasicSR's ``init_tb_loggers``, with the tensorboard writer a TolerantSummaryWriter (or None, with a
    warning, if it cannot be made)."""
    try:
        tb_logger = BASICSR_INIT_TB_LOGGERS(opt)
    except OSError as error:
        warn_tensorboard_dropped(osp.join(opt['root_path'], 'tb_logger', opt['name']), error)
        return None
    return tb_logger and TolerantSummaryWriter(tb_logger)


def stopping_on_folder_errors(make_folders):
    """``make_folders`` (BasicSR's ``make_exp_dirs`` or ``mkdir_and_rename``), raising an OutputError that names
    the folder and the cause when a run folder cannot be made or an old one cannot be moved aside."""

    @functools.wraps(make_folders)
    def make(*args):
        try:
            return make_folders(*args)
        except OSError as error:
            folder = error.filename or 'a run folder'
            raise OutputError(f'{folder}: cannot prepare the run folder ({cause(error, folder)})') from None

    return make


make_exp_dirs = stopping_on_folder_errors(BASICSR_MAKE_EXP_DIRS)
mkdir_and_rename = stopping_on_folder_errors(BASICSR_MKDIR_AND_RENAME)


def write_run_image(img, file_path, params=None, auto_mkdir=True):
    """BasicSR's ``imwrite`` (an image array to ``file_path``, its folder made), written whole or not at all, and
    an OutputError naming the file and the cause when it cannot be written."""
    if auto_mkdir:
        try:
            os.makedirs(osp.dirname(osp.abspath(file_path)), exist_ok=True)
        except OSError as error:
            raise write_failure(file_path, error) from None
    write_image_atomically(file_path, img, params or ())
