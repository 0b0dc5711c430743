import pytest

from fer_core.data.labels import canonical_class, label_line, label_score, spelling_of, validate_class_name


@pytest.mark.parametrize("raw,canon", [("Anger", "angry"), ("happiness", "happy"), ("Sadness", "sad"),
                                       ("surprised", "surprise"), ("tongue out", "tongue_out"), ("Neutral", "neutral")])
def test_synonyms(raw, canon):
    assert canonical_class(raw) == canon


@pytest.mark.parametrize("bad", ["", "   ", "../x", "/etc", "a/b", "a\\b", "..", ".hidden", "x" * 65, "tab\there"])
def test_bad_class_names_refused(bad):
    with pytest.raises(ValueError):
        validate_class_name(bad)


def test_good_class_names():
    assert validate_class_name(" tongue-out_2 ") == "tongue-out_2"
    assert validate_class_name("scream") == "scream"


@pytest.mark.parametrize("word", ["smile", "joy", "calm", "scared", "mad", "afraid"])
def test_another_word_is_its_own_class(word):
    """Only spellings merge: a user who names a new class "smile" gets "smile", not happy (issue 13)."""
    assert canonical_class(word) == word and spelling_of(word) is None


def test_spelling_of():
    assert spelling_of(" Happiness ") == "happy" and spelling_of("anger") == "angry"
    assert spelling_of("happy") is None and spelling_of("wink") is None


def test_one_label_score_format():
    """``happy 87%`` everywhere: readouts, boxes on frames and photos, upload captions, the video."""
    assert label_score("happy", 0.873) == "happy 87%" and label_score("sad", 1.0) == "sad 100%"
    assert label_score("happy") == "happy"
    assert label_line("Expression", "happy", 0.873) == "Expression: happy 87%"
    assert label_line("Suggestion", None, None) == "Suggestion: no face yet"

