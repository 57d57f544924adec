"""`Secrets.mask`: a value read through env() is written `env("NAME")` in any form a message may
quote it in, once, and `MaskedStream` masks what goes through it and is otherwise the stream."""

from __future__ import annotations

import io
import json
import logging

from rillet.runtime.secret import MaskedStream, Secrets

ODD = "p@ss'w\"rd/é"  # quotes, a slash, a non-ASCII letter: every quoting differs


def test_a_secret_is_masked_in_every_form_a_message_quotes_it_in() -> None:
    secrets = Secrets({ODD: "PW"})
    texts = [
        ODD,
        json.dumps(ODD),
        json.dumps(ODD, ensure_ascii=False),
        repr(ODD),
        f"redis://bob:{ODD}@host",
        "redis://bob:p%40ss%27w%22rd%2F%C3%A9@host",
        json.dumps({"message": f"at {ODD}"}),
    ]
    for text in texts:
        masked = secrets.mask(text)
        assert "env(" in masked
        assert "ss'w" not in masked and "ss\\'w" not in masked and "%27w" not in masked, masked


def test_a_literal_that_is_the_whole_secret_reads_as_the_call() -> None:
    secrets = Secrets({"hunter2": "PW"})
    assert secrets.mask('where page != "hunter2"') == 'where page != env("PW")'
    assert secrets.mask("r0['page'] != 'hunter2'") == "r0['page'] != env(\"PW\")"
    assert secrets.mask('"u:hunter2@h"') == '"u:env("PW")@h"'


def test_the_longest_secret_wins_and_a_replacement_is_not_masked_again() -> None:
    secrets = Secrets({"abc": "SHORT", "abcdef": "LONG", "env": "E", "": "EMPTY"})
    assert secrets.mask("abcdef abc env") == 'env("LONG") env("SHORT") env("E")'


def test_no_secrets_masks_nothing() -> None:
    secrets = Secrets({"": "EMPTY"})
    assert not secrets
    assert secrets.mask("anything") == "anything"


def test_a_masked_stream_masks_writes_and_log_lines() -> None:
    target = io.StringIO()
    stream = MaskedStream(target, Secrets({"hunter2": "PW"}))
    assert stream.write("cannot connect to redis://:hunter2@h\n") == 37
    stream.writelines(["hunter2", "\n"])
    handler = logging.StreamHandler(stream)  # type: ignore[arg-type]
    log = logging.getLogger("test_secret")
    log.addHandler(handler)
    try:
        log.warning("lost %s", "redis://:hunter2@h")
    finally:
        log.removeHandler(handler)
    assert target.getvalue() == (
        'cannot connect to redis://:env("PW")@h\nenv("PW")\nlost redis://:env("PW")@h\n'
    )
    assert stream.isatty() is False and stream.getvalue() == target.getvalue()
