"""The libyaml-backed loaders read every document exactly as the pure-Python loaders do: the same data
(Salt's integers and dates in SLS, YAML 1.1 elsewhere), the same duplicate-key refusal, the same error
text and line (a document libyaml refuses is parsed again by PyYAML for its own words)."""

import pytest
import yaml

from hafab.engine import yamlio
from hafab.engine.errors import InputError

DOCUMENTS = [
    "mode: 0640\n",                      # Salt: 640; YAML 1.1: octal 416
    "mode: 0\nzero: 00\nhex: 0x1f\nbin: 0b101\n",
    "when: 2024-01-02\n",                # Salt: the text; YAML 1.1: a date
    "a: {b: [1, 2, {c: d}]}\nlist:\n  - x\n  - y: z\n",
    "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n",
    "a: 1\nb: 2\na: 3\n",                # duplicate key
    "outer:\n  k: 1\n  k: 2\n",          # duplicate key, nested
    "a: b: c\n",                         # errors: libyaml's wording differs, PyYAML's is kept
    "a:\n\t- x\n",
    "a: 'x\n",
    "- a\nb: c\n",
    "a: [1, 2\n",
    "a: *x\n",
    "a: @x\n",
    "a:\n  - b\n c: d\n",
    "? [1, 2]\n: v\n",
    "? {a: 1}\n: v\n",                  # unhashable key
    "",
    "%YAML 1.1\n---\na: yes\nb: off\nc: ~\n",
    "text: \"caf\\u00e9 \\x41\"\nf: 1.5e3\nneg: -012\n",
]


def outcome(text, loader, fast):
    saved = dict(yamlio._FAST)
    if not fast:
        yamlio._FAST.clear()
    try:
        return "data", yamlio.load(text, "x.sls", loader=loader)
    except InputError as exc:
        return "error", (exc.where, exc.message)
    finally:
        yamlio._FAST.clear()
        yamlio._FAST.update(saved)


def test_libyaml_is_used_when_pyyaml_has_it():
    assert hasattr(yaml, "CSafeLoader")   # the pinned PyYAML wheel ships libyaml
    assert set(yamlio._FAST) == {yamlio._StrictLoader, yamlio._SaltLoader}


@pytest.mark.parametrize("loader", [yamlio._SaltLoader, yamlio._StrictLoader], ids=["salt", "strict"])
@pytest.mark.parametrize("text", DOCUMENTS)
def test_fast_loader_reads_like_the_python_loader(text, loader):
    assert outcome(text, loader, fast=True) == outcome(text, loader, fast=False)


@pytest.mark.parametrize("text, expected", [
    ("mode: 0640\n", {"mode": 640}),
    ("when: 2024-01-02\n", {"when": "2024-01-02"}),
])
def test_salt_meaning_kept(text, expected):
    assert yamlio.load(text, "x.sls") == expected


def test_duplicate_key_named_with_both_lines():
    with pytest.raises(InputError) as info:
        yamlio.load("a: 1\nb: 2\na: 3\n", "x.sls")
    assert info.value.where == "x.sls:3"
    assert "first defined on line 1" in info.value.message
