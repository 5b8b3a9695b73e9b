r"""Task ``charlm``: character language models of Shakespeare and of Tang/Song poems — text and poetry generation.

A model reads the text one character at a time and predicts the next; it is judged by the cross-entropy of the
held-out text in nats per character, and in bits (bits = nats / ln 2). Sampling continues a prompt; the poetry mode
(the notes' "poem-writing robot") constrains sampling to a classical form.

Splits. Shakespeare: the last ``test_fraction`` of every work is the test text, the ``val_fraction`` before it the
validation text, the rest trains (every split holds every play, none shares a passage with another). Poems: whole
poems by a hash of title, author and first line.

Training. The training text is laid out as ``train.batch_size`` parallel streams cut into chunks of
``data.chunk_length`` characters; batch k holds chunk k of every stream. The recurrent models carry their state
(detached) from one batch to the next — truncated back-propagation through time — so they learn from a context
longer than a chunk; this needs the batches in order (``train.shuffle = false``, their default). The Transformer
sees a chunk at a time (its context is the chunk length) and trains on shuffled chunks; so does the temporal
convolutional network (``tcn``: causal dilated convolutions, whose context is its receptive field). Evaluation reads
a split as ``eval.streams`` parallel streams from start to end, carrying the state: the recurrent models see all the
text of their stream before, the Transformer and the TCN their last ``context - 1`` characters (they read half a
context at a time, so every character has at least half a context before it).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.config import TRANSFORMER_TRAINING, DataConfig, EvalConfig, check_split_fractions
from nnzoo.data import TensorData
from nnzoo.data.splits import hash_split
from nnzoo.data.text_corpora import chinese_fortunes, chinese_poems, shakespeare_works
from nnzoo.data.vocab import Vocabulary
from nnzoo.decode import sample
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.language_models import (
    ConvolutionalLanguageModel,
    ConvolutionalLMConfig,
    RecurrentLanguageModel,
    RecurrentLMConfig,
    TransformerLanguageModel,
    TransformerLMConfig,
)
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Splits, Task

MIN_STREAM_CHARS = 1024  # a scored stream starts from an empty state: keep that a small part of it
POEM_START = "\n\n"  # what precedes every poem in the training text of a poem corpus
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass
class CharLMData(DataConfig):
    corpus: Literal["shakespeare", "tang300", "song100", "poems"] = "shakespeare"  # poems: tang300 + song100
    extra_chinese: bool = False  # poem corpora: add fortunes-zh's `chinese` file to the training text
    chunk_length: int = 128  # characters per training chunk; the Transformer's context
    # How the training text is cut: "chunks", consecutive pieces of parallel streams (what truncated BPTT needs), or
    # "windows", pieces at random offsets drawn from the seed (as many as there are chunks; the Transformer, which
    # carries no state, then sees every character at every position of its context). "auto": windows for the
    # Transformer and the TCN, chunks for the recurrent models.
    sampling: Literal["auto", "chunks", "windows"] = "auto"
    min_count: int = 2  # rarer training characters become <unk>
    max_chars: int = 0  # keep the first N characters of the training text (quick runs); 0: all
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    ADDED: ClassVar[dict[str, Any]] = {"sampling": "chunks"}  # keys added since, at the value of earlier runs

    def __post_init__(self) -> None:
        check_split_fractions(self.val_fraction, self.test_fraction)
        if self.chunk_length < 2 or self.min_count < 1 or self.max_chars < 0:
            raise ConfigError("need data.chunk_length >= 2, data.min_count >= 1 and data.max_chars >= 0")


@dataclass
class CharLMEval(EvalConfig):
    streams: int = 64  # an evaluated split is read as this many parallel streams, start to end
    validate_chars: int = 64_000  # validation during training reads the first N characters; 0: all


def _vocab_size(info: dict) -> int:
    return len(info["symbols"]) + len(Vocabulary.SPECIALS)


def _register_recurrent(cell: str, title: str) -> None:
    def build(cfg: RecurrentLMConfig, info: dict) -> nn.Module:
        return RecurrentLanguageModel(_vocab_size(info), cell, cfg)

    build.__doc__ = f"{title} character model, trained by truncated BPTT with the state carried across batches."
    register_model("charlm", cell, config=RecurrentLMConfig, train_defaults={"shuffle": False})(build)


for _cell, _title in (("rnn", "Elman RNN"), ("lstm", "LSTM"), ("gru", "GRU")):
    _register_recurrent(_cell, _title)


@register_model(
    "charlm",
    "transformer",
    config=TransformerLMConfig,
    train_defaults={**TRANSFORMER_TRAINING, "lr": 2e-3, "warmup_steps": 100},
)
def build_transformer(cfg: TransformerLMConfig, info: dict) -> nn.Module:
    """Decoder-only Transformer (causal self-attention); its context is data.chunk_length characters."""
    return TransformerLanguageModel(_vocab_size(info), info["chunk_length"], cfg)


@register_model("charlm", "tcn", config=ConvolutionalLMConfig)
def build_tcn(cfg: ConvolutionalLMConfig, info: dict) -> nn.Module:
    """Temporal convolutional network: causal dilated 1-D convolutions, every position at once; sees its receptive
    field."""
    return ConvolutionalLanguageModel(_vocab_size(info), cfg)


@dataclass(frozen=True)
class PoemForm:
    """A regular poem: ``lines`` lines of ``chars`` characters (5 or 7; 4 lines: *jueju*, 8: *lüshi*).

    Laid out as the corpus is: a couplet per text line, "，" after its first half and "。" after its second. With
    ``heads`` (one character per line), the poem is an acrostic (藏头诗): line i starts with ``heads[i]``.
    """

    chars: int
    lines: int
    heads: str = ""

    def __post_init__(self) -> None:
        if self.chars not in (5, 7) or self.lines not in (4, 8):
            raise UserError(f"a poem has 5 or 7 characters per line and 4 or 8 lines, got {self.chars}x{self.lines}")
        if self.heads and (len(self.heads) != self.lines or not all(CJK.fullmatch(c) for c in self.heads)):
            raise UserError(f"an acrostic needs one Chinese head character per line ({self.lines}), got {self.heads!r}")

    @classmethod
    def parse(cls, text: str, heads: str = "") -> PoemForm:
        match = re.fullmatch(r"\s*(\d+)\s*[x×*]\s*(\d+)\s*", text)
        if not match:
            raise UserError(f"--poem takes CHARSxLINES such as 5x4 or 7x8, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)), heads)

    def slots(self) -> list[str | None]:
        """What each generated character must be: a given symbol, or None for any Chinese character."""
        out: list[str | None] = []
        for line in range(self.lines):
            out.append(self.heads[line] if self.heads else None)
            out += [None] * (self.chars - 1)
            out.append("，" if line % 2 == 0 else "。")
            if line % 2 == 1 and line < self.lines - 1:
                out.append("\n")
        return out


@register_task("charlm")
class CharLM(Task):
    """Character language model of Shakespeare or Tang/Song poems; text and poetry generation (bits per char)."""

    DataConfig = CharLMData
    EvalConfig = CharLMEval
    default_model = "lstm"
    metric_names = ("loss", "bpc")
    train_defaults: ClassVar[dict] = {
        "batch_size": 64,
        "epochs": 1,
        "eval_every": 250,
        "lr": 2e-3,
        "optimizer": "adamw",
        "weight_decay": 0.01,
        "grad_clip": 1.0,
        "schedule": "cosine",
        "monitor": "loss",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._carried: tuple[int, object] | None = None  # (chunk index, state) of the last training batch

    # --- data ----------------------------------------------------------------------------------------------------
    def split_texts(self) -> dict[str, str]:
        """The train/val/test texts of the configured corpus."""
        cfg = self.cfg.data
        if cfg.corpus == "shakespeare":
            parts: dict[str, list[str]] = {"train": [], "val": [], "test": []}
            for text in shakespeare_works().values():
                cuts = _line_cuts(text, (1 - cfg.val_fraction - cfg.test_fraction, 1 - cfg.test_fraction))
                for name, piece in zip(("train", "val", "test"), _cut(text, cuts)):
                    parts[name].append(piece)
            texts = {name: "".join(pieces) for name, pieces in parts.items()}
        else:
            collections = ("tang300", "song100") if cfg.corpus == "poems" else (cfg.corpus,)
            poems = {f"{p.title}|{p.author}|{p.lines[0]}": p for c in collections for p in chinese_poems(c)}
            split = hash_split(sorted(poems), cfg.val_fraction, cfg.test_fraction)
            texts = {name: "".join(poems[key].text + POEM_START for key in keys) for name, keys in split.items()}
            if cfg.extra_chinese:
                texts["train"] += "".join(text + POEM_START for text in chinese_fortunes())
        if cfg.max_chars:
            texts["train"] = texts["train"][: cfg.max_chars]
        return texts

    def build_data(self) -> Splits:
        cfg = self.cfg.data
        texts = self.split_texts()
        vocabulary = Vocabulary.from_corpus([texts["train"]], cfg.min_count)
        self.info = {
            "corpus": cfg.corpus,
            "symbols": vocabulary.to_list(),
            "chunk_length": cfg.chunk_length,
            "characters": {name: len(text) for name, text in texts.items()},
            "unigram_bpc": unigram_bpc(vocabulary.encode(texts["train"]), texts, vocabulary),
        }
        self.vocabulary = vocabulary
        streams = self.cfg.train.batch_size
        ids = {name: torch.tensor(vocabulary.encode(text), dtype=torch.long) for name, text in texts.items()}
        if len(ids["train"]) < streams * cfg.chunk_length + 1:
            raise UserError(
                f"the training text has {len(ids['train'])} characters, fewer than train.batch_size ({streams}) "
                f"streams x data.chunk_length ({cfg.chunk_length}) + 1; lower either"
            )
        for name in ("val", "test"):
            if len(ids[name]) < 100:
                raise UserError(
                    f"the {name} text has {len(ids[name])} characters (100 at least); raise data.{name}_fraction"
                )
        stateless = not isinstance(self.cfg.model, RecurrentLMConfig)  # the Transformer and the TCN
        if cfg.sampling == "windows" or (cfg.sampling == "auto" and stateless):
            train = random_windows(ids["train"], cfg.chunk_length, torch.Generator().manual_seed(self.cfg.seed))
        else:
            train = chunked_streams(ids["train"], streams, cfg.chunk_length)
        return {
            "train": train,
            "val": ids["val"],
            "test": ids["test"],
        }

    @property
    def vocab(self) -> Vocabulary:
        if not hasattr(self, "vocabulary"):
            self.vocabulary = Vocabulary(self.info["symbols"])
        return self.vocabulary

    @classmethod
    def prepare_data(cls) -> str:
        works = shakespeare_works()
        poems = {c: len(chinese_poems(c)) for c in ("tang300", "song100")}
        return (
            f"Shakespeare: {len(works)} works, {sum(map(len, works.values())):,} characters; "
            f"poems: {poems['tang300']} Tang, {poems['song100']} Song; {len(chinese_fortunes()):,} fortunes"
        )

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        inputs, targets, chunk = batch
        state = None
        # Carry the state only into the next chunk of the same streams (batches in order, same stream count).
        if model.carries_state and self._carried is not None:
            previous, carried = self._carried
            if bool((chunk == previous + 1).all()) and len(chunk) == self.cfg.train.batch_size:
                state = carried
        logits, state = model(inputs, state)
        if model.carries_state:
            self._carried = (int(chunk[0]), model.detach_state(state))
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), label_smoothing=self.cfg.train.label_smoothing)

    def training_state(self) -> dict[str, Tensor]:
        """The recurrent state carried into the next chunk and the index of the chunk it came from: ``chunk``,
        ``state.<i>`` (an LSTM carries a tuple (h, c), the other cells h alone: ``is_tuple``)."""
        if self._carried is None:
            return {}
        chunk, state = self._carried
        parts = state if isinstance(state, tuple) else (state,)
        named = {f"state.{i}": part for i, part in enumerate(parts)}
        return {"chunk": torch.tensor(chunk), "is_tuple": torch.tensor(isinstance(state, tuple)), **named}

    def load_training_state(self, state: Mapping[str, Tensor]) -> None:
        if "chunk" not in state:
            self._carried = None
            return
        parts = tuple(state[f"state.{i}"].to(self.device) for i in range(len(state) - 2))
        self._carried = (int(state["chunk"]), parts if bool(state["is_tuple"]) else parts[0])

    def evaluate(self, model: nn.Module, ids: Tensor) -> dict[str, float]:
        nats = stream_nll(model, ids.to(self.device), self.cfg.eval.streams, eval_chunk(model))
        return {"loss": nats, "bpc": nats / math.log(2)}

    def validate(self, model: nn.Module, ids: Tensor) -> dict[str, float]:
        limit = self.cfg.eval.validate_chars
        return self.evaluate(model, ids[:limit] if limit else ids)

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        bpc = self.info["unigram_bpc"][split]
        return {"unigram (character frequencies)": {"loss": bpc * math.log(2), "bpc": bpc}}

    def figures(self, model: nn.Module, data: Splits, split: str, folder: Path) -> list[Path]:
        """Samples at three temperatures (and poems, for a poem corpus) in ``samples.txt``."""
        folder.mkdir(parents=True, exist_ok=True)
        poetry = self.info["corpus"] != "shakespeare"
        prompt = POEM_START if poetry else "To be, or not to be"
        lines = []
        for temperature in (0.5, 0.8, 1.0):
            text = self.generate(model, prompt, 300, temperature, seed=0)
            lines += [f"--- prompt {prompt!r}, temperature {temperature}, seed 0", prompt + text, ""]
        if poetry:
            forms = [PoemForm(5, 4), PoemForm(7, 4)]
            # An acrostic on heads the model knows (a poems-only vocabulary may lack 夏, for one).
            heads = next((h for h in ("春夏秋冬", "风花雪月", "山水日月") if all(c in self.vocab for c in h)), None)
            forms += [PoemForm(5, 4, heads)] if heads else []
            for form in forms:
                label = f"{form.chars}x{form.lines}" + (f" acrostic {form.heads}" if form.heads else "")
                for seed in range(3):
                    lines += [
                        f"--- poem {label}, temperature 0.8, seed {seed}",
                        self.poem(model, form, "", 0.8, 0, seed),
                    ]
        path = folder / "samples.txt"
        path.write_text("\n".join(lines) + "\n", "utf-8")
        return [path]

    # --- generation --------------------------------------------------------------------------------------------
    def encode_prompt(self, prompt: str) -> list[int]:
        unknown = sorted({c for c in prompt if c not in self.vocab})
        if unknown:
            raise UserError(
                f"the prompt has characters the model never saw in training: {''.join(unknown)!r}; "
                f"it knows {len(self.info['symbols'])} characters of the {self.info['corpus']} corpus"
            )
        return self.vocab.encode(prompt)

    def generate(
        self, model: nn.Module, prompt: str, length: int, temperature: float, top_k: int = 0, seed: int = 0
    ) -> str:
        """``length`` sampled characters after ``prompt`` (never a special symbol such as <unk>)."""
        if not prompt:
            raise UserError("the prompt is empty; give at least one character to continue (--prompt)")
        ids = self.encode_prompt(prompt)
        allowed = torch.ones(len(self.vocab), dtype=torch.bool)
        allowed[: len(Vocabulary.SPECIALS)] = False
        out = sample(
            model,
            ids,
            length,
            temperature=temperature,
            top_k=top_k,
            generator=torch.Generator().manual_seed(seed),
            allowed=lambda _: allowed,
            chunk=eval_chunk(model),
        )
        return "".join(self.vocab.decode(out))

    def poem(self, model: nn.Module, form: PoemForm, prompt: str, temperature: float, top_k: int, seed: int) -> str:
        """A poem of ``form``; its first characters are ``prompt`` (Chinese characters only, punctuation added)."""
        if self.info["corpus"] == "shakespeare":
            raise UserError("poetry mode needs a model of a Chinese poem corpus (data.corpus = tang300/song100/poems)")
        slots = form.slots()
        free = [i for i, s in enumerate(slots) if s is None or CJK.fullmatch(s)]  # the character positions
        given = [c for c in prompt if not c.isspace()]
        if any(not CJK.fullmatch(c) for c in given):
            raise UserError(f"a poem's prompt is Chinese characters only (punctuation is added), got {prompt!r}")
        if len(given) > len(free):
            raise UserError(f"the prompt has {len(given)} characters; a {form.chars}x{form.lines} poem has {len(free)}")
        for position, char in zip(free, given):
            if slots[position] is not None and slots[position] != char:
                raise UserError(f"the prompt's character {char!r} conflicts with the acrostic's {slots[position]!r}")
            slots[position] = char
        unknown = sorted({s for s in slots if s is not None and s not in self.vocab})
        if unknown:
            raise UserError(f"the model never saw {''.join(unknown)!r} in training; choose other characters")
        chinese = torch.zeros(len(self.vocab), dtype=torch.bool)
        chinese[[i for i, s in enumerate(self.vocab.symbols) if CJK.fullmatch(s)]] = True

        def allowed(generated: list[int]) -> Tensor:
            slot = slots[len(generated)]
            if slot is None:
                return chinese
            mask = torch.zeros(len(self.vocab), dtype=torch.bool)
            mask[self.vocab.index[slot]] = True
            return mask

        out = sample(
            model,
            self.encode_prompt(POEM_START),
            len(slots),
            temperature=temperature,
            top_k=top_k,
            generator=torch.Generator().manual_seed(seed),
            allowed=allowed,
            chunk=eval_chunk(model),
        )
        return "".join(self.vocab.decode(out))

    def predict(
        self,
        model: nn.Module,
        inputs: list[str],
        *,
        length: int = 200,
        temperature: float = 0.8,
        top_k: int = 0,
        seed: int = 0,
        poem: str = "",
        acrostic: str = "",
    ) -> list[str]:
        """A text for each prompt: the prompt followed by ``length`` sampled characters, or with ``poem``
        ("CHARSxLINES": 5x4, 7x4, 5x8 or 7x8) a regular poem whose first characters are the prompt (an empty prompt
        is allowed), with ``acrostic`` the head character of every line. Prompt i is sampled with seed
        ``seed + i``; ``temperature`` 0 is greedy, ``top_k`` > 0 samples among the k most probable characters."""
        if not 0 <= length <= 100_000 or temperature < 0 or top_k < 0:
            raise UserError("need 0 <= length <= 100000, temperature >= 0 and top_k >= 0")
        if acrostic and not poem:
            raise UserError("acrostic needs poem, a form such as poem='5x4' with acrostic='春夏秋冬'")
        texts = []
        for i, prompt in enumerate(inputs):
            if poem:
                texts.append(self.poem(model, PoemForm.parse(poem, acrostic), prompt, temperature, top_k, seed + i))
            else:
                texts.append(prompt + self.generate(model, prompt, length, temperature, top_k, seed + i))
        return texts


def _line_cuts(text: str, fractions: tuple[float, ...]) -> list[int]:
    """Positions near ``fractions`` of ``text``, moved to the start of the next line."""
    cuts = []
    for fraction in fractions:
        position = text.find("\n", int(len(text) * fraction))
        cuts.append(len(text) if position < 0 else position + 1)
    return cuts


def _cut(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def chunked_streams(ids: Tensor, streams: int, length: int) -> TensorData:
    """The text as ``streams`` parallel rows cut into chunks of ``length``: rows (inputs, targets, chunk index).

    Row ``c * streams + s`` is chunk c of stream s, so with batches of ``streams`` rows taken in order, batch c
    continues batch c - 1 in every stream. Targets are the inputs shifted by one character.
    """
    per_stream = (len(ids) - 1) // streams
    chunks = per_stream // length
    used = chunks * length

    def layout(x: Tensor) -> Tensor:
        return x.view(streams, per_stream)[:, :used].view(streams, chunks, length).transpose(0, 1).reshape(-1, length)

    inputs = layout(ids[: streams * per_stream])
    targets = layout(ids[1 : streams * per_stream + 1])
    return TensorData(inputs, targets, torch.arange(chunks).repeat_interleave(streams))


def random_windows(ids: Tensor, length: int, generator: torch.Generator) -> TensorData:
    """As many windows of ``length`` characters as the text has chunks, at random offsets (drawn with
    replacement): rows (inputs, targets, -1), the targets shifted by one; -1 says no row continues another."""
    count = (len(ids) - 1) // length
    offsets = torch.randint(len(ids) - length, (count,), generator=generator)
    window = offsets[:, None] + torch.arange(length)
    return TensorData(ids[window], ids[window + 1], torch.full((count,), -1))


def eval_chunk(model: nn.Module) -> int:
    """Characters read per call when scoring or sampling: half a context for the Transformer (so every character
    has at least half a context before it), 256 for the recurrent models (their state carries everything)."""
    context = getattr(model, "context", None)
    return max(1, context // 2) if context else 256


def stream_nll(model: nn.Module, ids: Tensor, streams: int, chunk: int) -> float:
    """Mean negative log-likelihood (nats per character) of ``ids``, read as ``streams`` rows (fewer if a row would
    be shorter than ``MIN_STREAM_CHARS``) from start to end, with the model's state carried from chunk to chunk."""
    streams = max(1, min(streams, (len(ids) - 1) // MIN_STREAM_CHARS))  # short texts: fewer, longer streams
    per_stream = (len(ids) - 1) // streams
    inputs = ids[: streams * per_stream].view(streams, per_stream)
    targets = ids[1 : streams * per_stream + 1].view(streams, per_stream)
    state, total = None, 0.0
    for start in range(0, per_stream, chunk):
        logits, state = model(inputs[:, start : start + chunk], state)
        total += float(
            F.cross_entropy(logits.flatten(0, 1).float(), targets[:, start : start + chunk].flatten(), reduction="sum")
        )
    return total / (streams * per_stream)


def unigram_bpc(train_ids: list[int], texts: dict[str, str], vocabulary: Vocabulary) -> dict[str, float]:
    """Bits per character of each split under the training text's character frequencies (add-one smoothed)."""
    counts = torch.bincount(torch.tensor(train_ids), minlength=len(vocabulary)).double() + 1
    log2_p = torch.log2(counts / counts.sum())
    # rounded: the last digits of a parallel sum depend on the thread count, and info.json must match on reload
    return {
        name: round(float(-log2_p[torch.tensor(vocabulary.encode(text))].mean()), 6) for name, text in texts.items()
    }
