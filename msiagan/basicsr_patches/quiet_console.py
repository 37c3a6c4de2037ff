"""``msiagan/train.py --quiet``: the console shows one progress line per print_freq and the validation results;
BasicSR's banner, options dump and full messages still go to the experiment's log file.

msiagan.basicsr_patches.install(quiet=True) puts ``quiet_root_logger`` and ``QuietMessageLogger`` in place of
``get_root_logger`` and ``MessageLogger`` in basicsr.train; ``parse_options_listing_quiet`` lists --quiet in -h.
"""
import datetime
import logging
import sys
import time

from basicsr import train as basicsr_train
from basicsr.utils import MessageLogger
from basicsr.utils.dist_util import master_only

BASICSR_PARSE_OPTIONS = basicsr_train.parse_options
QUIET_HELP = '''  --quiet               (msiagan) the console shows one progress line per
                        print_freq and the validation results; the full log
                        stays in the experiment folder'''
CONSOLE_PREFIXES = ('Validation ', 'End of training')  # BasicSR's messages that the quiet console still shows


class ConsoleResults(logging.Filter):
    """Lets through the validation results and the end of training, each on one line."""

    def filter(self, record):
        message = record.getMessage()
        if not message.startswith(CONSOLE_PREFIXES):
            return False
        record.msg, record.args = ' '.join(message.replace('#', '').split()), ()
        return True


def quiet_root_logger(get_root_logger):
    """``get_root_logger`` whose console shows only warnings, errors and what ConsoleResults lets through."""

    def get_quiet_root_logger(logger_name='basicsr', log_level=logging.INFO, log_file=None):
        logger = get_root_logger(logger_name, log_level, log_file)
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:  # BasicSR's console handler, not its FileHandler
                handler.setLevel(logging.WARNING)
        results = logging.StreamHandler(sys.stdout)
        results.addFilter(ConsoleResults())
        logger.addHandler(results)
        if log_file is not None:
            print(f'training; the full log: {log_file}', flush=True)
        return logger

    return get_quiet_root_logger


class QuietMessageLogger(MessageLogger):
    """BasicSR's MessageLogger (its full message goes to the log file), plus one short line on the console:
    ``iter 50/600 (8%), eta 0:01:23, l_g_pix 0.1234, ...`` (the losses; the discriminator's outputs only go
    to the log file)."""

    @master_only
    def __call__(self, log_vars):
        values = dict(log_vars)
        super().__call__(log_vars)
        current_iter = values['iter']
        seconds_per_iter = (time.time() - self.start_time) / (current_iter - self.start_iter + 1)
        eta = datetime.timedelta(seconds=int(seconds_per_iter * (self.max_iters - current_iter)))
        losses = ', '.join(f'{name} {value:.4g}' for name, value in values.items() if name.startswith('l_'))
        print(f'iter {current_iter}/{self.max_iters} ({100 * current_iter // self.max_iters}%), eta {eta}'
              f'{", " + losses if losses else ""}', flush=True)


def parse_options_listing_quiet(root_path, is_train=True):
    """BasicSR's ``parse_options``; after the flags its -h prints (and before it exits), msiagan/train.py's --quiet,
    which train.py takes out of sys.argv before BasicSR parses it."""
    try:
        return BASICSR_PARSE_OPTIONS(root_path, is_train)
    except SystemExit as stop:
        if stop.code == 0:  # argparse exits 0 only after printing the help
            print(QUIET_HELP)
        raise
