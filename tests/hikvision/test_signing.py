import pytest

from portal.hikvision.signing import (
    SignatureError,
    SignatureVerifier,
    compute_signature,
    content_md5,
    sign_headers,
    string_to_sign,
)

AK, SK = "12345678", "ExampleSecret0000000"
PATH = "/artemis/api/acs/v1/door/events"
NONCE, TS = "1b6e9f7c-2d3a-4c5b-8e9f-0a1b2c3d4e5f", "1700000000000"
BODY = (
    b'{"pageNo":1,"pageSize":100,"startTime":"2024-05-01T00:00:00+03:00",'
    b'"endTime":"2024-05-01T23:59:59+03:00","eventType":196893}'
)
XCA = {"x-ca-key": AK, "x-ca-nonce": NONCE, "x-ca-timestamp": TS}


def test_vector_a_nothing_custom_signed():
    headers = {"Accept": "*/*", "Content-Type": "application/json"}
    text = string_to_sign("POST", PATH, headers, [])
    assert text == "POST\n*/*\napplication/json\n" + PATH
    assert compute_signature(SK, text) == "hbObgdRv7jK/BjuUIyLu90EyX+/DyWH4Lk1giyAwJRU="


def test_vector_b_key_nonce_timestamp():
    headers = {"Accept": "*/*", "Content-Type": "application/json", **XCA}
    text = string_to_sign("post", PATH, headers, ["x-ca-timestamp", "x-ca-key", "x-ca-nonce"])
    assert text.endswith(f"x-ca-key:{AK}\nx-ca-nonce:{NONCE}\nx-ca-timestamp:{TS}\n{PATH}")
    assert compute_signature(SK, text) == "EjX4sKM1GJymDbJGAIinDaN/xHGFpw4qOWa8xlYl40E="


def test_vector_c_with_md5_and_charset():
    assert content_md5(BODY) == "52uaD3F1yfMbBBK/KHkLlg=="
    headers = {
        "Accept": "application/json",
        "Content-MD5": content_md5(BODY),
        "Content-Type": "application/json;charset=UTF-8",
        **XCA,
    }
    text = string_to_sign("POST", PATH, headers, list(XCA))
    assert compute_signature(SK, text) == "3UjGL8bA4j4kAcZn42EKR2IZXtU/oHz8Aftg4cOGNTo="


def test_query_parameters_are_sorted_and_blank_values_bare():
    text = string_to_sign("GET", "/artemis/x?b=2&a=1&c=", {}, [])
    assert text == "GET\n/artemis/x?a=1&b=2&c"


def verifier(now=1700000000.0, skew=300):
    return SignatureVerifier({AK: SK}, max_skew_seconds=skew, clock=lambda: now)


def signed(content_type="application/json", nonce=None, **overrides):
    """The headers the client sends for BODY at 1700000000, ``overrides`` put over them."""
    headers = sign_headers(
        "POST",
        PATH,
        BODY,
        AK,
        SK,
        accept="application/json",
        content_type=content_type,
        now=1700000000.0,
        nonce=nonce,
    )
    return headers | overrides


def test_client_headers_verify():
    headers = signed(content_type="application/json;charset=UTF-8", nonce=NONCE)
    assert headers["x-ca-signature-headers"] == "x-ca-key,x-ca-nonce,x-ca-timestamp"
    assert headers["Content-MD5"] == "52uaD3F1yfMbBBK/KHkLlg=="
    assert headers["x-ca-signature"] == "3UjGL8bA4j4kAcZn42EKR2IZXtU/oHz8Aftg4cOGNTo="
    assert verifier().verify("POST", PATH, headers, BODY) == AK


@pytest.mark.parametrize(
    "headers",
    [
        # variant A: no custom header signed, no MD5
        {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "X-Ca-Key": AK,
            "X-Ca-Signature": "hbObgdRv7jK/BjuUIyLu90EyX+/DyWH4Lk1giyAwJRU=",
        },
        # variant B
        {
            "Accept": "*/*",
            "Content-Type": "application/json",
            **{k.upper(): v for k, v in XCA.items()},
            "X-Ca-Signature-Headers": "x-ca-key,x-ca-nonce,x-ca-timestamp",
            "X-Ca-Signature": "EjX4sKM1GJymDbJGAIinDaN/xHGFpw4qOWa8xlYl40E=",
        },
    ],
)
def test_documented_variants_verify(headers):
    assert verifier().verify("POST", PATH, headers, BODY) == AK


def test_only_key_signed_verifies():
    headers = {"Accept": "application/json", "Content-Type": "application/json", "x-ca-key": AK}
    text = string_to_sign("POST", PATH, headers, ["x-ca-key"])
    headers |= {"x-ca-signature-headers": "x-ca-key", "x-ca-signature": compute_signature(SK, text)}
    assert verifier().verify("POST", PATH, headers, b"{}") == AK


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (signed(**{"x-ca-signature": "AAAA"}), BODY, "signature incorrect"),
        (signed(**{"x-ca-key": "99999999"}), BODY, "no partner for this AppKey"),
        (signed(**{"x-ca-key": ""}), BODY, "AppKey is empty"),
        (signed(**{"x-ca-signature": ""}), BODY, "signature is empty"),
        (signed(), BODY + b" ", "body does not match Content-MD5"),
        (signed(**{"Content-Type": "application/json;charset=UTF-8"}), BODY, "signature incorrect"),
    ],
)
def test_verifier_refuses(headers, body, reason):
    with pytest.raises(SignatureError) as info:
        verifier().verify("POST", PATH, headers, body)
    assert info.value.reason == reason


def test_verifier_refuses_timestamp_outside_skew():
    headers = signed()
    with pytest.raises(SignatureError, match="clock skew"):
        verifier(now=1700000000.0 + 301).verify("POST", PATH, headers, BODY)
    assert verifier(now=1700000000.0 + 299).verify("POST", PATH, headers, BODY) == AK


def test_verifier_refuses_signing_a_standard_header():
    headers = signed(**{"x-ca-signature-headers": "x-ca-key,content-type"})
    with pytest.raises(SignatureError, match="standard header"):
        verifier().verify("POST", PATH, headers, BODY)
