import pytest

from fer_core.labels import canonical_class, validate_class_name


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
