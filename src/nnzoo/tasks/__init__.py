"""One module per task; importing this package registers every task and its models."""

from nnzoo.tasks import charlm, classify_text, forecast, g2p, regression, tagging, translate  # noqa: F401  (each module registers its task)
