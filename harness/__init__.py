"""harness: benchmarking and performance harness for Bayesian inference on JAX.

Data flows one way: target -> method -> metrics -> store -> report.
"""

__version__ = "0.1.0"


class UsageError(ValueError):
    """Bad user input: the CLI prints the message on one line and exits with code 2."""


class StoreError(RuntimeError):
    """A row could not be stored (e.g. a full disk): the message names the file; the CLI exits with code 1."""
