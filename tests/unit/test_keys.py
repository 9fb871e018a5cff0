"""realtime.keys: fingerprints instead of secrets, and masking of key-shaped text."""

from realtime.keys import fingerprint, redact, redact_values


def test_a_fingerprint_is_the_prefix_and_a_hash_never_the_secret():
    secret = "ek_68af296e8e408191a1120ab6383263c2"

    label = fingerprint(secret)

    assert label.startswith("ek_68af…")
    assert secret not in label
    assert len(label) <= 64


def test_a_fingerprint_is_stable_and_distinguishes_secrets():
    assert fingerprint("ek_aaaaaaaaaaaa") == fingerprint("ek_aaaaaaaaaaaa")
    assert fingerprint("ek_aaaaaaaaaaaa") != fingerprint("ek_aaaaaaaaaaab")


def test_redact_masks_server_keys_project_keys_and_ephemeral_secrets():
    text = (
        # Built here: a key-shaped literal in the repository would look like a leaked key.
        f"key {'sk-'}abcdefghijklmnop, project {'sk-proj-'}ABCDEF_123456789, "
        "secret ek_68af296e8e408191a1120ab6383263c2."
    )

    assert redact(text) == "key sk-…redacted, project sk-…redacted, secret ek_…redacted."


def test_redact_leaves_openais_own_masked_keys_and_ordinary_words():
    text = "Incorrect API key provided: sk-abc***AAAA. Ask-me or desk-top."

    assert redact(text) == text


def test_redact_values_masks_only_strings():
    assert redact_values({"message": "bad sk-abcdefghijklmnop", "param": None, "n": 3}) == {
        "message": "bad sk-…redacted",
        "param": None,
        "n": 3,
    }
