"""The error classes: one base that the CLI turns into a message and exit status 2 (no traceback), and
AnalysisError also a ValueError for callers that catch that."""

import pytest

from lingtrace import errors
from lingtrace.cli import main

CLASSES = (errors.ConfigError, errors.DataError, errors.ArtifactError, errors.NumericalError, errors.AnalysisError)


@pytest.mark.parametrize("cls", CLASSES)
def test_every_error_is_a_lingtrace_error_carrying_its_message(cls):
    with pytest.raises(errors.LingtraceError, match="^x.parquet: broken$"):
        raise cls("x.parquet: broken")
    assert issubclass(cls, ValueError) == (cls is errors.AnalysisError)


def test_cli_turns_an_error_into_its_message_and_status_2(tmp_path, capsys):
    assert main(["overhead", "--results", str(tmp_path / "nowhere"), "--logs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"lingtrace overhead: error: {tmp_path / 'nowhere' / 'benchmarks'}: no benchmarks folder" in err
    assert "Traceback" not in err


def test_unreadable_params_are_a_config_error_naming_the_option(tmp_path, capsys):
    assert main(["overhead", "--params", "{not json", "--results", str(tmp_path)]) == 2
    assert "lingtrace overhead: error: --params: cannot read '{not json' as JSON" in capsys.readouterr().err
