"""One module per task; importing this package registers every task and its models."""

from nnzoo.tasks import (  # noqa: F401  (each module registers its task)
    caption,
    charlm,
    classify_images,
    classify_text,
    denoise,
    forecast,
    g2p,
    gan,
    memory,
    regression,
    segment,
    seismic,
    tagging,
    translate,
    translate_images,
)
