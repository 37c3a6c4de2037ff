"""The error raised for bad user input."""


class InputError(ValueError):
    """Bad input: a data file or folder, or an option. Its message is one line that names the culprit."""


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a loss became NaN). Its message is one line that names what and when."""


class OutputError(RuntimeError):
    """An output cannot be written (a full disk, no permission, ...). Its message is one line that names the file
    and the cause."""
