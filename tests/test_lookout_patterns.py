"""The translation of the model's ECMA-262 patterns to Python's `re`.

Smithy patterns are ECMA-262 regular expressions, not implicitly anchored.
Where Python's `re` reads the same text differently ($, ., \\d, \\w, \\s, \\b),
the translation must keep the ECMA meaning, and what it cannot translate it
must refuse (ValueError) rather than drop.
"""

from __future__ import annotations

import re

import pytest

from scheduler_ui.lookout.service import service_model
from scheduler_ui.lookout.validation import compiled_pattern, ecma_to_python, matches

PATTERNED_SHAPES = {
    name: s["pattern"] for name, s in service_model()["shapes"].items() if "pattern" in s
}


def case(pattern: str, value: str, expected: bool, why: str) -> object:
    return pytest.param(pattern, value, expected, id=why)


def test_the_model_has_patterns_to_translate() -> None:
    assert len(PATTERNED_SHAPES) > 20


@pytest.mark.parametrize("name", sorted(PATTERNED_SHAPES))
def test_every_model_pattern_compiles(name: str) -> None:
    assert isinstance(compiled_pattern(PATTERNED_SHAPES[name]), re.Pattern)


ECMA_SEMANTICS = [
    # Smithy: not implicitly anchored.
    case("a", "bab", True, "a match anywhere counts"),
    case("a$", "ba", True, "only $ anchors the end"),
    case("^a", "ba", False, "^ anchors the start"),
    # $ is the end of input only (Python's $ also matches before a final newline).
    case("^a$", "a", True, "$ at the end of input"),
    case("^a$", "a\n", False, "$ does not match before a trailing newline"),
    case("^(a|b)$", "b\n", False, "$ after a group does not match before a trailing newline"),
    case("[$]", "$", True, "$ inside a class is a literal dollar"),
    # . is anything but a line terminator.
    case("^.$", "x", True, ". matches a letter"),
    case("^.$", "\t", True, ". matches a tab"),
    case("^.$", "\n", False, ". does not match a line feed"),
    case("^.$", "\r", False, ". does not match a carriage return"),
    case("^.$", "\u2028", False, ". does not match a line separator"),
    case("^.$", "\u2029", False, ". does not match a paragraph separator"),
    case("^[.]$", "x", False, ". inside a class is a literal dot"),
    # \d and \w are ASCII only.
    case("^\\d$", "7", True, "\\d matches an ASCII digit"),
    case("^\\d$", "\u0663", False, "\\d does not match an Arabic-Indic digit"),
    case("^\\d$", "\uff17", False, "\\d does not match a full-width digit"),
    case("^\\D$", "\u0663", True, "\\D matches an Arabic-Indic digit"),
    case("^[^\\d]$", "\u0663", True, "[^\\d] matches an Arabic-Indic digit"),
    case("^[0-9]{2}$", "\u0661\u0662", False, "[0-9] does not match Arabic-Indic digits"),
    case("^\\w$", "_", True, "\\w matches an underscore"),
    case("^\\w$", "é", False, "\\w does not match a non-ASCII letter"),
    case("\\bfoo", "éfoo", True, "\\b is an ASCII word boundary"),
    # \s is ECMA WhiteSpace and LineTerminator, nothing more.
    case("^\\s$", "\u00a0", True, "\\s matches a no-break space"),
    case("^\\s$", "\ufeff", True, "\\s matches a byte-order mark"),
    case("^\\s$", "\u3000", True, "\\s matches an ideographic space"),
    case("^\\s$", "\u2028", True, "\\s matches a line separator"),
    case("^\\s$", "\x1c", False, "\\s does not match a file separator"),
    case("^\\s$", "\x85", False, "\\s does not match a next-line control"),
    case("^\\s$", "\u200b", False, "\\s does not match a zero-width space"),
    case("^[\\s]$", "\ufeff", True, "\\s inside a class matches a byte-order mark"),
    case("^\\S$", "\u00a0", False, "\\S does not match a no-break space"),
    # Java-style properties, as the model uses them.
    case("^[\\P{M}\\p{M}]$", "\u0301", True, "[\\P{M}\\p{M}] matches a combining mark"),
    case("^[\\P{M}\\p{M}]$", "\n", True, "[\\P{M}\\p{M}] matches a line feed"),
    case("^[\\P{M}\\p{M}]$", "😀", True, "[\\P{M}\\p{M}] matches an astral character"),
    case("^\\p{M}$", "\u0301", True, "\\p{M} matches a combining mark"),
    case("^\\p{M}$", "e", False, "\\p{M} does not match a letter"),
    case("^\\P{M}$", "\u0301", False, "\\P{M} does not match a combining mark"),
    case("^\\p{ASCII}+$", "a~\x00\x7f", True, "\\p{ASCII} matches \\x00 to \\x7f"),
    case("^\\p{ASCII}+$", "é", False, "\\p{ASCII} does not match \\x80 and above"),
    case("\\p{ASCII}{1,256}", "ééaéé", True, "\\p{ASCII} unanchored: one ASCII char suffices"),
    # Annex B: a '-' next to a class escape is a literal dash, not a range.
    case("^[+-\\d]$", "-", True, "[+-\\d] matches a dash"),
    case("^[+-\\d]$", "5", True, "[+-\\d] matches a digit"),
    case("^[+-\\d]$", ",", False, "[+-\\d] is not the range + to 0"),
    case("^[\\d-]$", "-", True, "[\\d-] matches a dash"),
    # Other syntax.
    case("^(?<year>\\d{4})$", "2024", True, "a named group"),
    case("^a\\/b$", "a/b", True, "an escaped slash"),
    case("^\\u00e9$", "é", True, "a \\u escape"),
]


@pytest.mark.parametrize(("pattern", "value", "expected"), ECMA_SEMANTICS)
def test_pattern_has_ecma_semantics(pattern: str, value: str, expected: bool) -> None:
    assert matches(pattern, value) is expected


UNTRANSLATABLE = [
    pytest.param("\\p{IsGreek}", id="a Java script property"),
    pytest.param("\\p{Xy}", id="an unknown general category"),
    pytest.param("[a\\p{Xy}]", id="an unknown general category inside a class"),
    pytest.param("\\P{ASCII}", id="a negated Java POSIX class"),
    pytest.param("\\cA", id="a control escape"),
    pytest.param("(?<n>a)\\k<n>", id="a named back-reference"),
    pytest.param("[\\D]", id="a negated class escape inside a class"),
    pytest.param("[\\d-z]", id="a class escape followed by a dash and an atom"),
    pytest.param("[]", id="an empty class"),
    pytest.param("\\u{41}", id="a code point escape"),
    pytest.param("abc\\", id="a trailing backslash"),
]


@pytest.mark.parametrize("pattern", UNTRANSLATABLE)
def test_untranslatable_construct_raises_value_error(pattern: str) -> None:
    with pytest.raises(ValueError):
        compiled_pattern(pattern)


def test_translation_anchors_dollar_at_the_end_of_input() -> None:
    assert ecma_to_python("^[a-z]+$") == "^[a-z]+\\Z"
