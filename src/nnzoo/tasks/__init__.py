"""One module per task; importing this package registers every task and its models."""

from nnzoo.tasks import regression  # noqa: F401  (registers the task)
