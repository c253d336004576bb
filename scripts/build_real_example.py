#!/usr/bin/env python3
"""Build lingtrace's real-text example, offline: place names in seven languages labelled by continent.

Sources (Debian packages, no network): ``iso-codes`` gives the ISO 3166-1 country and ISO 3166-2
subdivision names (``/usr/share/iso-codes/json``) and their human translations
(``/usr/share/locale/{locale}/LC_MESSAGES/iso_3166-{1,2}.mo``); ``tzdata``'s ``zone.tab`` gives each
country's continent: the tz area (Europe, Asia, Africa, America) of its first listed zone, and for
countries whose first zone is an ocean or Antarctica, the UN M49 region (OCEAN_REGIONS).

An item is a country or a subdivision (labelled with its country's continent) that has a translation in
every language; names that are ambiguous in some language (two items, one text) are dropped; each
continent keeps as many items as the smallest one has (a balanced task: chance is 1/4). Items, with all
their translations, go to train or test, never both.

Writes into ``--out`` (default resources/datasets/iso-regions):
  train.tsv, test.tsv     item_id, lang, region, name: one row per item and language
  unlabeled/{lang}.txt    other human-translated names (languages, currencies, scripts), one per line,
                          for the pretraining corpus (pretrain.corpus_files); no labelled name among them
  build.json              what was built from which package versions

Run as ``python scripts/build_real_example.py`` (needs ``apt-get install iso-codes tzdata``);
``--baseline`` prints, instead, the test accuracy per language of a model-free control on the built
files: naive Bayes over character 1- to 3-grams, trained on the preset's five fine-tuning languages.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import struct
import subprocess
from pathlib import Path

# Our language code -> the gettext locale of its translations (None: the English names themselves).
LANGUAGES = {"en": None, "de": "de", "fr": "fr", "ru": "ru", "uk": "uk", "ja": "ja", "zh": "zh_CN"}
REGIONS = ("Africa", "Americas", "Asia", "Europe")
TZ_AREAS = {"Africa": "Africa", "America": "Americas", "Asia": "Asia", "Europe": "Europe"}
# Countries whose first zone in zone.tab lies in an ocean, the Arctic or Antarctica, or that have no
# zone: their UN M49 region. Oceania (CC, CX, HM) and Antarctica (AQ) are not among REGIONS: left out.
OCEAN_REGIONS = {
    "BM": "Americas", "BV": "Americas", "FK": "Americas", "GS": "Americas",
    "CV": "Africa", "IO": "Africa", "KM": "Africa", "MG": "Africa", "MU": "Africa", "RE": "Africa",
    "SC": "Africa", "SH": "Africa", "TF": "Africa", "YT": "Africa",
    "FO": "Europe", "IS": "Europe", "SJ": "Europe",
    "MV": "Asia",
}  # fmt: skip
UNLABELED_DOMAINS = {"iso_639-2": "639-2", "iso_4217": "4217", "iso_15924": "15924"}
ROOT = Path(__file__).resolve().parents[1]
TEST_SHARE = 0.25
SEED = 0


def read_mo(path: Path) -> dict[str, str]:
    """The translations of a gettext .mo file: {msgid: msgstr}, without the header and plural forms."""
    data = path.read_bytes()
    order = "<" if struct.unpack("<I", data[:4])[0] == 0x950412DE else ">"
    count, ids_at, strs_at = struct.unpack(order + "3I", data[8:20])

    def string(table: int, i: int) -> str:
        length, offset = struct.unpack(order + "2I", data[table + 8 * i : table + 8 * i + 8])
        return data[offset : offset + length].decode("utf-8")

    pairs = ((string(ids_at, i), string(strs_at, i)) for i in range(count))
    return {msgid: text for msgid, text in pairs if msgid and "\x00" not in msgid and "\x04" not in msgid and text}


def translations(locale_dir: Path, domain: str, locale: str | None) -> dict[str, str] | None:
    """{English name: name in the locale} of one iso-codes domain; None for English itself."""
    if locale is None:
        return None
    path = locale_dir / locale / "LC_MESSAGES" / f"{domain}.mo"
    return read_mo(path) if path.exists() else {}


def country_regions(zone_tab: Path) -> dict[str, str]:
    """Country code -> continent (one of REGIONS), from the first zone listed for the country."""
    regions: dict[str, str] = {}
    for line in zone_tab.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        country, _, zone = line.split("\t")[:3]
        area = zone.split("/")[0]
        if country not in regions and area in TZ_AREAS:
            regions[country] = TZ_AREAS[area]
        regions.setdefault(country, OCEAN_REGIONS.get(country, ""))
    for country, region in OCEAN_REGIONS.items():
        regions.setdefault(country, region)
    return {country: region for country, region in regions.items() if region in REGIONS}


def place_names(json_dir: Path) -> list[tuple[str, str, str, str]]:
    """(item_id, English name, country code, gettext domain) of every country and subdivision."""
    countries = json.loads((json_dir / "iso_3166-1.json").read_text())["3166-1"]
    subdivisions = json.loads((json_dir / "iso_3166-2.json").read_text())["3166-2"]
    return [(f"c-{c['alpha_2']}", c["name"], c["alpha_2"], "iso_3166-1") for c in countries] + [
        (f"s-{s['code']}", s["name"], s["code"].split("-")[0], "iso_3166-2") for s in subdivisions
    ]


def translated_items(json_dir: Path, locale_dir: Path, regions: dict[str, str]) -> list[dict]:
    """Items with a continent and a name in every language: {item_id, region, names: {lang: name}}."""
    catalogs = {
        (domain, lang): translations(locale_dir, domain, locale)
        for domain in ("iso_3166-1", "iso_3166-2")
        for lang, locale in LANGUAGES.items()
    }
    items = []
    for item_id, english, country, domain in place_names(json_dir):
        names = {lang: english if catalogs[domain, lang] is None else catalogs[domain, lang].get(english)
                 for lang in LANGUAGES}  # fmt: skip
        if country in regions and all(names.values()):
            items.append({"item_id": item_id, "region": regions[country], "names": names})
    return unambiguous(items)


def unambiguous(items: list[dict]) -> list[dict]:
    """Items none of whose names is shared with another item in the same language."""
    seen: dict[tuple[str, str], int] = {}
    for item in items:
        for lang, name in item["names"].items():
            seen[lang, name.strip().casefold()] = seen.get((lang, name.strip().casefold()), 0) + 1
    return [item for item in items if all(seen[lang, n.strip().casefold()] == 1 for lang, n in item["names"].items())]


def balanced_split(items: list[dict], seed: int = SEED) -> dict[str, list[dict]]:
    """{train, test}: as many items per continent as the rarest has, a TEST_SHARE of each in test."""
    by_region = {region: sorted((i for i in items if i["region"] == region), key=lambda i: i["item_id"])
                 for region in REGIONS}  # fmt: skip
    per_region = min(len(group) for group in by_region.values())
    n_test = round(per_region * TEST_SHARE)
    split = {"train": [], "test": []}
    for region, group in by_region.items():
        chosen = random.Random(f"{seed}-{region}").sample(group, per_region)
        split["test"] += chosen[:n_test]
        split["train"] += chosen[n_test:]
    return {name: sorted(rows, key=lambda i: i["item_id"]) for name, rows in split.items()}


def unlabeled_texts(json_dir: Path, locale_dir: Path, labelled: set[str]) -> dict[str, list[str]]:
    """Per language: names of languages, currencies and scripts, sorted, none equal to a labelled name."""
    texts = {}
    for lang, locale in LANGUAGES.items():
        lines = set()
        for domain, key in UNLABELED_DOMAINS.items():
            english = [entry["name"] for entry in json.loads((json_dir / f"{domain}.json").read_text())[key]]
            catalog = translations(locale_dir, domain, locale)
            lines |= {name if catalog is None else catalog.get(name, "") for name in english}
        texts[lang] = sorted(line.strip() for line in lines if line.strip() and line.strip().casefold() not in labelled)
    return texts


def package_version(name: str) -> str | None:
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True,
                              check=True).stdout or None  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None


def write_split(rows: list[dict], path: Path) -> None:
    """Tab-separated, unquoted (lingtrace reads TSV with quotes as text); whitespace runs become one space."""
    lines = ["item_id\tlang\tregion\tname"]
    for item in rows:
        lines += [f"{item['item_id']}\t{lang}\t{item['region']}\t{' '.join(item['names'][lang].split())}"
                  for lang in LANGUAGES]  # fmt: skip
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def build(json_dir: Path, locale_dir: Path, zone_tab: Path, out: Path) -> dict:
    """Write the example's files into ``out``; returns what build.json records."""
    items = translated_items(json_dir, locale_dir, country_regions(zone_tab))
    split = balanced_split(items)
    labelled = {name.strip().casefold() for item in items for name in item["names"].values()}
    (out / "unlabeled").mkdir(parents=True, exist_ok=True)
    for name, rows in split.items():
        write_split(rows, out / f"{name}.tsv")
    unlabeled = unlabeled_texts(json_dir, locale_dir, labelled)
    for lang, lines in unlabeled.items():
        (out / "unlabeled" / f"{lang}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    record = {
        "languages": LANGUAGES,
        "regions": list(REGIONS),
        "items": {name: len(rows) for name, rows in split.items()},
        "items_per_region": {name: len(rows) // len(REGIONS) for name, rows in split.items()},
        "unlabeled_lines": {lang: len(lines) for lang, lines in unlabeled.items()},
        "packages": {"iso-codes": package_version("iso-codes"), "tzdata": package_version("tzdata")},
    }
    (out / "build.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return record


def read_split(path: Path) -> list[dict]:
    header, *lines = path.read_text(encoding="utf-8").splitlines()
    return [dict(zip(header.split("\t"), line.split("\t"))) for line in lines]


def char_ngrams(text: str) -> list[str]:
    padded = f" {text.casefold()} "
    return [padded[i : i + n] for n in (1, 2, 3) for i in range(len(padded) - n + 1)]


def surface_baseline(folder: Path, train_langs=("de", "fr", "ru", "uk", "ja")) -> dict[str, float]:
    """Test accuracy per language of multinomial naive Bayes on character n-grams (add-1/2 smoothing),
    trained on the train split's ``train_langs``: what spelling alone gets, with no learned sharing."""
    counts: dict[str, dict[str, int]] = {region: {} for region in REGIONS}
    for row in read_split(folder / "train.tsv"):
        if row["lang"] in train_langs:
            for gram in char_ngrams(row["name"]):
                counts[row["region"]][gram] = counts[row["region"]].get(gram, 0) + 1
    vocab = len({gram for grams in counts.values() for gram in grams})
    totals = {region: sum(grams.values()) for region, grams in counts.items()}

    def predict(name: str) -> str:
        return max(REGIONS, key=lambda r: sum(math.log((counts[r].get(g, 0) + 0.5) / (totals[r] + 0.5 * vocab))
                                              for g in char_ngrams(name)))  # fmt: skip

    hits: dict[str, list[bool]] = {}
    for row in read_split(folder / "test.tsv"):
        hits.setdefault(row["lang"], []).append(predict(row["name"]) == row["region"])
    return {lang: sum(h) / len(h) for lang, h in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iso-codes", type=Path, default=Path("/usr/share/iso-codes/json"))
    parser.add_argument("--locale", type=Path, default=Path("/usr/share/locale"))
    parser.add_argument("--zone-tab", type=Path, default=Path("/usr/share/zoneinfo/zone.tab"))
    parser.add_argument("--out", type=Path, default=ROOT / "resources/datasets/iso-regions")
    parser.add_argument("--baseline", action="store_true", help="print the surface control on --out's files")
    args = parser.parse_args()
    if args.baseline:
        print(json.dumps({lang: round(acc, 3) for lang, acc in surface_baseline(args.out).items()}))
        return
    for path in (args.iso_codes, args.locale, args.zone_tab):
        if not path.exists():
            raise SystemExit(f"{path}: not found; install Debian's packages: apt-get install iso-codes tzdata")
    record = build(args.iso_codes, args.locale, args.zone_tab, args.out)
    print(json.dumps(record, ensure_ascii=False))


if __name__ == "__main__":
    main()
