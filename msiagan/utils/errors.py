"""The error raised for bad user input."""


class InputError(ValueError):
    """Bad input: a data file or folder, or an option. Its message is one line that names the culprit."""


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a loss became NaN). Its message is one line that names what and when."""


class OutputError(RuntimeError):
    """An output cannot be written (a full disk, no permission, ...). Its message is one line that names the file
    and the cause."""


class TrainingStopped(Exception):
    """Training stopped on request (a stop signal) with its state saved. Its message is the line to print (empty
    in the processes other than 0); the program exits with ``EXIT_STATUS``."""
    EXIT_STATUS = 75  # EX_TEMPFAIL of sysexits.h: a temporary failure, run it again (with --auto_resume) to go on
