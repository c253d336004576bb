"""Every source is found by name, whichever source module was imported first."""

import subprocess
import sys


def test_sources_are_found_after_one_source_module_was_imported():
    code = ("import lingtrace.data.sources.synthetic\n"
            "from lingtrace.data.sources import source_of\n"
            "print(source_of({'source': 'local'}).name, source_of({'source': 'hf'}).name)")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split() == ["local", "hf"]
