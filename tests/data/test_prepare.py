"""Which task keys a split's job depends on."""

from lingtrace.data.prepare import task_slice
from lingtrace.study import resolve_task
from lingtrace.settings import as_dict

TASK = {"name": "t", "source": "local", "num_labels": 2, "train_langs": ["en"], "files": {"train": {"en": "x.csv"}},
        "columns": {"text_a": "a", "label": "y"}}  # fmt: skip


def test_a_key_added_later_is_left_out_at_its_default():
    """Studies run before empty_texts existed keep their data params, so nothing of theirs reruns."""
    assert "empty_texts" not in task_slice(as_dict(resolve_task(TASK)), "train")
    drop = as_dict(resolve_task({**TASK, "empty_texts": "drop"}))
    assert task_slice(drop, "train")["empty_texts"] == "drop" and task_slice(drop, "test")["empty_texts"] == "drop"
