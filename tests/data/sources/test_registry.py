"""The source registry finds every source, whichever source module a program imported first."""

import subprocess
import sys


def test_a_source_is_found_after_another_was_imported_alone():
    program = ("import lingtrace.data.sources.synthetic\n"
               "from lingtrace.data.sources import source_of\n"
               "print(source_of({'source': 'local'}).name)")  # fmt: skip
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "local"
