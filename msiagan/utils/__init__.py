"""Plumbing shared by the package: errors, BasicSR compatibility, options files, distributed runs, resuming,
checkpoints, writing files and reading weights. Imports nothing of the rest of msiagan."""
