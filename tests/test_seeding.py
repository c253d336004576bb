"""stable_seed: a 64-bit seed from the SHA-256 of its parts, the same in every process (Python's hash is not)."""

import hashlib
import os
import subprocess
import sys

from lingtrace.seeding import stable_seed


def test_seed_is_the_first_eight_bytes_of_the_sha256_of_the_joined_parts():
    expected = int.from_bytes(hashlib.sha256(b"3\x1flds-subset\x1f7").digest()[:8], "little")
    assert stable_seed(3, "lds-subset", 7) == expected
    seeds = [stable_seed(i, "x") for i in range(200)]
    assert all(0 <= s < 2**64 for s in seeds) and len(set(seeds)) == 200
    assert max(seeds) >= 2**63  # the full 64 bits are used (callers reduce modulo what their RNG takes)


def test_order_and_part_boundaries_matter():
    assert stable_seed("a", "b") != stable_seed("b", "a")
    assert stable_seed("ab", "c") != stable_seed("a", "bc") != stable_seed("abc")
    assert stable_seed(0, 1, "ala") != stable_seed(0, 2, "ala")


def test_same_seed_in_another_process_with_another_hash_seed():
    code = "from lingtrace.seeding import stable_seed; print(stable_seed(0, 'removal-sample', 'ala'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert int(out) == stable_seed(0, "removal-sample", "ala")
