"""Plumbing shared by the package: errors, entry points, options checks, the process group, random generators,
profiling, writing files and reading weights. Changes to BasicSR's behaviour are in msiagan.basicsr_patches."""
