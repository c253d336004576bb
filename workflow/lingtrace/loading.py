"""One error path for loading what a study names: the starting model and its tokenizer, a dataset, a
checkpoint. transformers, datasets, sentencepiece and torch fail in many exception types; every load
runs inside ``explained``, which turns any of them into a LingtraceError that names the config key or
file and says what to provide.

    with explained("model.name_or_path: could not load 'x'", model_hint("x")):
        model = AutoModel.from_pretrained("x")
"""

from __future__ import annotations

from contextlib import contextmanager

from lingtrace.errors import ConfigError, LingtraceError


def model_hint(name: str) -> str:
    """How to provide a model (and its tokenizer) when its hub name cannot be loaded."""
    return (
        f"If {name!r} is a hub name and this machine has no network (or HF_HUB_OFFLINE=1), download it elsewhere "
        f"with `huggingface-cli download {name} --local-dir DIR` (or `save_pretrained(DIR)`), copy DIR here and "
        "set model.name_or_path: DIR"
    )


def dataset_hint(name: str) -> str:
    """How to provide a dataset when its hub name cannot be loaded."""
    return (
        f"With no network (or HF_HUB_OFFLINE=1), download {name!r} elsewhere "
        f"(`datasets.load_dataset({name!r}, CONFIG).save_to_disk(DIR)` per language), copy the folders here and "
        "use source: local with files: {split: {lang: DIR}}"
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


@contextmanager
def explained(subject: str, hint: str, error: type[LingtraceError] = ConfigError):
    """Run a load; any failure but a LingtraceError becomes ``error``: ``subject (Type: reason). hint``."""
    try:
        yield
    except (LingtraceError, MemoryError):
        raise
    except Exception as err:  # the loaders' own types: OSError, ValueError, UnpicklingError, RuntimeError, ...
        raise error(f"{subject} ({type(err).__name__}: {_first_line(err)}). {hint}") from None
