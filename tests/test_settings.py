"""Settings come from one place: every default is the config schema's, wherever a stage is called from."""

import ast
from pathlib import Path

import pytest

from lingtrace import settings
from lingtrace.errors import ConfigError

PACKAGE = Path(settings.__file__).parent

# The least each section needs besides its defaults (its required keys).
REQUIRED = {
    "task": {"name": "t", "source": "synthetic", "shape": "nli", "train_langs": ["ala"]},
    "world": {"languages": [{"code": "ala", "family": "alpha"}]},
    "language": {"code": "ala", "family": "alpha"},
    "finetune": {},
}


def sections() -> list[str]:
    return sorted(settings.schema()["properties"]) + sorted(settings.NESTED_SECTIONS)


def defaults(node: dict, path: tuple = ()):
    """(path, default) of every property with a default below ``node``, through nested objects that are
    filled in when left out (those with a default of their own)."""
    node = settings.resolve(node)
    for key, sub in node.get("properties", {}).items():
        sub = settings.resolve(sub)
        if "default" in sub:
            yield (*path, key), sub["default"]
            yield from defaults(sub, (*path, key))


def value_at(typed, path: tuple):
    for key in path:
        typed = getattr(typed, key)
        if typed is None:
            return None
    return settings.as_dict(typed)


CASES = [(section, path, default) for section in sections()
         for path, default in defaults(settings.section_schema(section))]  # fmt: skip


@pytest.mark.parametrize("section, path, default", CASES, ids=[f"{s}.{'.'.join(p)}" for s, p, _ in CASES])
def test_every_schema_default_is_what_the_package_sees(section, path, default):
    typed = settings.load(section, REQUIRED.get(section, {}))
    seen = value_at(typed, path)
    if isinstance(default, dict):  # an object default: its own keys' defaults are filled in too
        assert isinstance(seen, dict) and all(seen[k] == v for k, v in default.items())
    else:
        assert seen == default, (section, path)


def test_the_default_dim_follows_the_projection():
    assert settings.load("gradients").dim == 16
    assert settings.load("gradients", {"projection": "gaussian"}).dim == 4096
    assert settings.load("gradients", {"projection": "none"}).dim is None
    assert settings.load("gradients", {"projection": "gaussian", "dim": 8}).dim == 8


def test_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"^finetune.epochs: -1 is less than the minimum of 1"):
        settings.load("finetune", {"epochs": -1})
    with pytest.raises(ConfigError, match=r"^task: Additional properties are not allowed \('trian_sizes'"):
        settings.load("task", {**REQUIRED["task"], "trian_sizes": {}})


def test_typed_settings_round_trip_without_inventing_keys():
    raw = {**REQUIRED["task"], "train_per_lang": 5}
    typed = settings.load("task", raw)
    assert typed.train_per_lang == 5 and typed.columns is None
    back = settings.as_dict(typed)
    assert "columns" not in back and back["train_per_lang"] == 5
    assert settings.load("task", back) == typed


def schema_defaults() -> dict[str, list]:
    """Every property name of the schema with the defaults it has anywhere."""
    found: dict[str, list] = {}
    for section in sections():
        for path, default in defaults(settings.section_schema(section)):
            found.setdefault(path[-1], []).append(default)
    return found


def literal(node):
    try:
        return True, ast.literal_eval(node)
    except ValueError:
        return False, None


def repeated_defaults(tree: ast.AST, known: dict[str, list]) -> list[str]:
    """Places that write a schema default again: ``x.get("key", default)``, ``x.setdefault("key", default)``
    and parameters ``key=default``, for a schema key and the value the schema gives it."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "setdefault")
                and len(node.args) == 2 and isinstance(node.args[0], ast.Constant)):  # fmt: skip
            key = node.args[0].value
            ok, value = literal(node.args[1])
            if key in known and ok and value is not None:
                found.append(f"line {node.lineno}: .{node.func.attr}({key!r}, {value!r})")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            for arg, default in pairs:
                ok, value = literal(default)
                if arg.arg in known and ok and value is not None and value in known[arg.arg]:
                    found.append(f"line {node.lineno}: {node.name}({arg.arg}={value!r})")
    return found


def test_no_schema_default_is_written_again_in_the_package():
    known = schema_defaults()
    problems = {
        str(path.relative_to(PACKAGE)): repeated
        for path in sorted(PACKAGE.rglob("*.py"))
        if (repeated := repeated_defaults(ast.parse(path.read_text()), known))
    }
    assert problems == {}, "schema defaults repeated in the package (read them from lingtrace.settings):\n" + "\n".join(
        f"  {file}: {', '.join(items)}" for file, items in problems.items()
    )


def test_the_lint_finds_a_repeated_default():
    code = "def f(top_k=100):\n    return cfg.get('batch_size', 32)\n"
    assert len(repeated_defaults(ast.parse(code), schema_defaults())) == 2
