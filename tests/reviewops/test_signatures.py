import pytest

from reviewops.signatures import SignatureError, sign, verify

VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_HEADER = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_documented_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_HEADER
    assert verify(VECTOR_BODY, VECTOR_HEADER, [VECTOR_SECRET]) == 0


def test_any_configured_secret_verifies_for_rotation() -> None:
    assert verify(VECTOR_BODY, VECTOR_HEADER, ["new-secret", VECTOR_SECRET]) == 1


@pytest.mark.parametrize(
    ("header", "secrets", "reason"),
    [
        (None, [VECTOR_SECRET], "missing"),
        ("", [VECTOR_SECRET], "missing"),
        ("sha1=" + "0" * 40, [VECTOR_SECRET], "wrong_algorithm"),
        ("sha256=xyz", [VECTOR_SECRET], "malformed"),
        ("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", [VECTOR_SECRET], "malformed"),
        ("sha256=" + "0" * 64, [VECTOR_SECRET], "mismatch"),
        (VECTOR_HEADER, ["another"], "mismatch"),
        (VECTOR_HEADER, [], "no_secret"),
    ],
)
def test_rejections_name_the_reason(header: str | None, secrets: list[str], reason: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify(VECTOR_BODY, header, secrets)
    assert info.value.reason == reason


def test_a_changed_body_fails() -> None:
    with pytest.raises(SignatureError):
        verify(b"Hello, World?", VECTOR_HEADER, [VECTOR_SECRET])
