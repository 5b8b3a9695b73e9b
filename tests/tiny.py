"""Settings that make a run of each task small enough for seconds: little data, small models. Tests add their
own ``train.*`` settings (steps, evaluations, checkpoints)."""

from __future__ import annotations

TINY = {
    "regression": [],
    "classify-images": ["data.dataset=digits", "data.image_size=28"],
    "denoise": ["data.dataset=mnist", "data.max_train=200"],
    "segment": ["data.train_scenes=40", "data.val_scenes=8", "data.test_scenes=8", "data.size=32", "model.depth=2"],
    "caption": ["data.train_scenes=40", "data.val_scenes=8", "data.test_scenes=8", "data.size=56", "eval.beam_size=2"],
    "seismic": ["data.train_examples=16", "data.val_examples=4", "data.test_examples=4"],
    "gan": ["data.dataset=mnist", "data.max_train=128", "eval.samples=32"],
    "translate-images": ["data.dataset=mnist", "data.max_train=128"],
    "charlm": ["data.max_chars=20000", "eval.validate_chars=2000", "data.chunk_length=16"],
    "tagging": ["data.corpus=apple"],
    "classify-text": ["data.max_reviews=300"],
    "forecast": ["data.series=nile"],
    "g2p": ["data.max_words=300", "eval.beam_size=2"],
    "translate": ["data.max_pairs=300", "data.vocab_size=300", "eval.beam_size=2"],
    "adding": ["data.length=8", "data.train_examples=64", "data.val_examples=16", "data.test_examples=16"],
    "copy-memory": ["data.length=4", "data.train_examples=64", "data.val_examples=16", "data.test_examples=16"],
    "latch": ["data.length=8", "data.train_examples=64", "data.val_examples=16", "data.test_examples=16"],
    "echo": ["data.length=2", "data.train_examples=64", "data.val_examples=16", "data.test_examples=16"],
}
JUDGED = ("gan", "translate-images")  # scored by a classify-images run of their data set: eval.classifier
SMALL_TRANSFORMER = ["model.d_model=16", "model.nhead=2", "model.dim_feedforward=16", "model.num_layers=1"]
SMALL_MODEL = {  # by task/model, or by task for all its models
    "denoise": ["model.base_channels=4"],
    "segment": ["model.base_channels=4"],
    "caption": ["model.channels=[4,8]", "model.hidden_size=16", "model.embed_dim=8", "model.attention_size=8"],
    "seismic": ["model.base_channels=4"],
    "gan": ["model.width=8", "model.latent_dim=8"],
    "translate-images": ["model.base_channels=4", "model.discriminator_width=4"],
    "charlm": ["model.hidden_size=16", "model.embedding_dim=8"],
    "charlm/transformer": SMALL_TRANSFORMER,
    "charlm/tcn": ["model.channels=16", "model.embedding_dim=8", "model.levels=2"],
    "tagging/tcn": ["model.channels=8", "model.embedding_dim=8", "model.levels=2"],
    "classify-text": ["model.hidden_size=8"],
    "classify-text/transformer": SMALL_TRANSFORMER,
    "forecast": ["model.hidden_size=8"],
    "forecast/transformer": SMALL_TRANSFORMER,
    "forecast/tcn": ["model.channels=8"],
    "g2p": ["model.hidden_size=16", "model.embed_dim=8"],
    "g2p/transformer": [*SMALL_TRANSFORMER[:3], "model.encoder_layers=1", "model.decoder_layers=1"],
    "translate": ["model.hidden_size=16", "model.embed_dim=8"],
    "translate/transformer": [*SMALL_TRANSFORMER[:3], "model.encoder_layers=1", "model.decoder_layers=1"],
    "adding": ["model.width=8"],
    "copy-memory": ["model.width=8"],
    "latch": ["model.width=8"],
    "echo": ["model.width=8"],
}


def tiny_settings(task: str, model: str) -> list[str]:
    """The ``--set`` overrides of a tiny run of ``task``/``model``: its data's, then its model's."""
    return [*TINY[task], *SMALL_MODEL.get(f"{task}/{model}", SMALL_MODEL.get(task, []))]
