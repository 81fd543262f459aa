"""Messages are encoded with orjson, as the same JSON dramatiq's own encoder writes."""

from __future__ import annotations

import dramatiq
import pytest
from dramatiq.encoder import DecodeError, JSONEncoder

from reviewops.queue import broker as _broker  # noqa: F401 - installs the encoder
from reviewops.queue.broker import delivery_message
from reviewops.queue.encoding import OrjsonEncoder


def test_the_process_encoder_is_orjson() -> None:
    assert isinstance(dramatiq.get_encoder(), OrjsonEncoder)


def test_messages_round_trip_and_old_json_messages_still_decode() -> None:
    message = delivery_message(42, tenant=7, options={"traceparent": "00-ab-cd-01", "note": "héllo"})
    assert dramatiq.Message.decode(message.encode()) == message
    written_by_dramatiq = JSONEncoder().encode(message.asdict())  # a message queued before the upgrade
    assert dramatiq.Message.decode(written_by_dramatiq) == message
    assert dramatiq.Message(**JSONEncoder().decode(message.encode())) == message  # and the other way


def test_garbage_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        OrjsonEncoder().decode(b"{not json")
