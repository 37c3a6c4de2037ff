"""What msiagan/train.py, msiagan/test.py and the console scripts share."""
import os
import sys
from os import path as osp

from msiagan.utils.distributed import leave_process_group
from msiagan.utils.errors import InputError, OutputError, TrainingError, TrainingStopped

PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))  # the msiagan package


def project_root():
    """Where experiments/ and results/ go: $MSIAGAN_ROOT if set, else the repository in a source checkout,
    else the working directory."""
    if os.environ.get('MSIAGAN_ROOT'):
        return osp.abspath(os.environ['MSIAGAN_ROOT'])
    repo = osp.dirname(PACKAGE_DIR)
    return repo if osp.isdir(osp.join(repo, 'options')) else osp.abspath('.')


def one_line(error):
    """The message of an InputError, also when a DataLoader worker re-raised it inside a traceback."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    last = lines[-1] if lines else type(error).__name__
    return last.split('InputError: ', 1)[-1]


def run_cli(program, pipeline, is_train=None):
    """Run ``pipeline()``; bad input, an output that cannot be written, or training that cannot go on, ends with a
    one-line error, Ctrl-C (SIGINT) with one line and exit status 130 (the traceback too with --debug), and a
    training stopped by a signal (msiagan.models.preemption) with its line and exit status 75.

    is_train (bool, optional): first check the options file named by -opt for a training (True) or test
    (False) run (msiagan.utils.options_check). A training then leaves its process group however it ends
    (BasicSR's train_pipeline does not).
    """
    try:
        if is_train is not None:
            from msiagan.utils.options_check import check_options_argv  # here: it loads every registry
            check_options_argv(sys.argv[1:], is_train)
        try:
            pipeline()
        finally:
            if is_train:
                leave_process_group()
    except (InputError, OutputError, TrainingError) as error:
        if '--debug' in sys.argv:
            raise
        sys.exit(f'{program}: error: {one_line(error)}')
    except TrainingStopped as stop:
        if str(stop):
            print(f'{program}: {stop}', file=sys.stderr)
        sys.exit(TrainingStopped.EXIT_STATUS)
    except KeyboardInterrupt:
        if '--debug' in sys.argv:
            raise
        saved = ('; the checkpoints and training states saved so far are whole: --auto_resume goes on from the last '
                 'one, if any' if is_train else '')
        print(f'{program}: stopped (Ctrl-C){saved}', file=sys.stderr)
        sys.exit(130)
