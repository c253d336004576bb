"""scripts/build_real_example.py on a tiny iso-codes/tzdata fixture, and the committed files against a rebuild."""

import importlib.util
import json
import struct
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("build_real_example", ROOT / "scripts/build_real_example.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)

COUNTRIES = {  # code: (English name, first zone)
    "DE": ("Germany", "Europe/Berlin"), "FR": ("France", "Europe/Paris"), "IS": ("Iceland", "Atlantic/Reykjavik"),
    "IT": ("Italy", "Europe/Rome"), "JP": ("Japan", "Asia/Tokyo"), "CN": ("China", "Asia/Shanghai"),
    "IN": ("India", "Asia/Kolkata"), "KZ": ("Kazakhstan", "Asia/Almaty"), "EG": ("Egypt", "Africa/Cairo"),
    "KE": ("Kenya", "Africa/Nairobi"), "CV": ("Cabo Verde", "Atlantic/Cape_Verde"), "NG": ("Nigeria", "Africa/Lagos"),
    "US": ("United States", "America/New_York"), "BR": ("Brazil", "America/Sao_Paulo"),
    "BM": ("Bermuda", "Atlantic/Bermuda"), "MX": ("Mexico", "America/Mexico_City"),
    "GE": ("Georgia", "Asia/Tbilisi"), "AU": ("Australia", "Australia/Sydney"),
}  # fmt: skip
SUBDIVISIONS = {"DE-BY": "Bavaria", "JP-13": "Tokyo", "US-GA": "Georgia"}
LANGUAGE_NAMES = ["German", "Japanese", "Egypt"]  # "Egypt" is a labelled name: kept out of the unlabeled text


def write_mo(path: Path, catalog: dict[str, str]) -> None:
    """A gettext .mo file (little-endian, no hash table) of ``catalog``."""
    keys = sorted(catalog)
    ids = [k.encode() for k in keys]
    strs = [catalog[k].encode() for k in keys]
    start = 28 + 16 * len(keys)
    offsets, blob = [], b""
    for s in ids + strs:
        offsets.append((len(s), start + len(blob)))
        blob += s + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + b"".join(struct.pack("<2I", *o) for o in offsets) + blob)


def translate(name: str, locale: str) -> str:
    return f"{name} [{locale}]"


@pytest.fixture
def sources(tmp_path):
    json_dir, locale_dir = tmp_path / "json", tmp_path / "locale"
    json_dir.mkdir()
    countries = [{"alpha_2": code, "name": name} for code, (name, _) in COUNTRIES.items()]
    (json_dir / "iso_3166-1.json").write_text(json.dumps({"3166-1": countries}))
    subdivisions = [{"code": code, "name": name} for code, name in SUBDIVISIONS.items()]
    (json_dir / "iso_3166-2.json").write_text(json.dumps({"3166-2": subdivisions}))
    (json_dir / "iso_639-2.json").write_text(json.dumps({"639-2": [{"name": n} for n in LANGUAGE_NAMES]}))
    (json_dir / "iso_4217.json").write_text(json.dumps({"4217": [{"name": "Euro"}]}))
    (json_dir / "iso_15924.json").write_text(json.dumps({"15924": [{"name": "Latin"}]}))
    for locale in ("de", "fr", "ru", "uk", "ja", "zh_CN"):
        countries = {n: translate(n, locale) for c, (n, _) in COUNTRIES.items() if not (c == "MX" and locale == "ja")}
        write_mo(locale_dir / locale / "LC_MESSAGES/iso_3166-1.mo", {"": "Content-Type: text/plain\n", **countries})
        write_mo(locale_dir / locale / "LC_MESSAGES/iso_3166-2.mo",
                 {n: translate(n, locale) for n in SUBDIVISIONS.values()})  # fmt: skip
        write_mo(locale_dir / locale / "LC_MESSAGES/iso_639-2.mo", {n: translate(n, locale) for n in LANGUAGE_NAMES})
    zone_tab = tmp_path / "zone.tab"
    zone_tab.write_text("# comment\n" + "".join(f"{c}\t+0000+00000\t{z}\n" for c, (_, z) in COUNTRIES.items()))
    return json_dir, locale_dir, zone_tab


def read_tsv(path: Path) -> list[dict]:
    header, *lines = path.read_text(encoding="utf-8").splitlines()
    return [dict(zip(header.split("\t"), line.split("\t"))) for line in lines]


def test_mo_files_read_back_without_their_header(tmp_path):
    write_mo(tmp_path / "x.mo", {"": "Content-Type: text/plain\n", "Japan": "日本", "Russia": "Россия"})
    assert build.read_mo(tmp_path / "x.mo") == {"Japan": "日本", "Russia": "Россия"}


def test_regions_from_the_first_zone_or_the_ocean_table(sources):
    regions = build.country_regions(sources[2])
    assert regions["IS"] == "Europe" and regions["CV"] == "Africa" and regions["BM"] == "Americas"
    assert regions["KZ"] == "Asia" and "AU" not in regions  # Oceania is not one of the task's continents


def test_build_writes_a_balanced_parallel_task_with_disjoint_splits(sources, tmp_path):
    out = tmp_path / "out"
    record = build.build(*sources, out)
    train, test = read_tsv(out / "train.tsv"), read_tsv(out / "test.tsv")
    items = {split: {r["item_id"] for r in rows} for split, rows in (("train", train), ("test", test))}
    assert not items["train"] & items["test"]
    # MX lacks a ja name; Georgia (GE, US-GA) is ambiguous; AU is in Oceania; Americas has 3 items left.
    assert not {"c-MX", "c-GE", "s-US-GA", "c-AU"} & (items["train"] | items["test"])
    assert record["items"] == {"train": 8, "test": 4} and record["items_per_region"] == {"train": 2, "test": 1}
    for rows in (train, test):
        assert all(sum(r["region"] == region for r in rows) == len(rows) // 4 for region in build.REGIONS)
        by_item = {}
        for r in rows:
            by_item.setdefault(r["item_id"], {})[r["lang"]] = r["name"]
        for names in by_item.values():
            assert list(names) == list(build.LANGUAGES)
            translated = {lang: locale for lang, locale in build.LANGUAGES.items() if locale}
            assert all(names[lang] == translate(names["en"], locale) for lang, locale in translated.items())
    # "Egypt" is a labelled name (en, and de's "Egypt [de]"); Euro and Latin have no de translation.
    assert (out / "unlabeled/en.txt").read_text().splitlines() == ["Euro", "German", "Japanese", "Latin"]
    assert (out / "unlabeled/de.txt").read_text().splitlines() == ["German [de]", "Japanese [de]"]


def test_surface_baseline_scores_every_test_language(sources, tmp_path):
    build.build(*sources, tmp_path)
    accuracy = build.surface_baseline(tmp_path)
    assert list(accuracy) == list(build.LANGUAGES) and all(0.0 <= a <= 1.0 for a in accuracy.values())
    assert build.char_ngrams("Ab") == [" ", "a", "b", " ", " a", "ab", "b ", " ab", "ab "]


def test_committed_files_are_what_the_script_builds(tmp_path):
    """Where this machine has the iso-codes and tzdata versions the files were built from."""
    committed = ROOT / "resources/datasets/iso-regions"
    recorded = json.loads((committed / "build.json").read_text())["packages"]
    installed = {name: build.package_version(name) for name in recorded}
    if installed != recorded:
        pytest.skip(f"iso-codes/tzdata here are {installed}, the files were built from {recorded}")
    build.build(Path("/usr/share/iso-codes/json"), Path("/usr/share/locale"), Path("/usr/share/zoneinfo/zone.tab"),
                tmp_path)  # fmt: skip
    for path in sorted(committed.rglob("*")):
        if path.is_file() and path.suffix in (".tsv", ".txt", ".json"):
            assert (tmp_path / path.relative_to(committed)).read_bytes() == path.read_bytes(), path
