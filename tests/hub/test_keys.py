"""Every Redis key and channel is built in hub/keys.py (rule H8)."""

from __future__ import annotations

from redis.crc import key_slot

from hub.keys import Keys, attempt_of


def test_per_attempt_keys_share_the_attempts_hash_tag() -> None:
    keys = Keys("p")
    names = [
        keys.events(42),
        keys.state(42),
        keys.channel(42),
        keys.watchers(42),
        keys.contact(42),
    ]
    assert all("{att:42}" in name for name in names)  # one cluster slot
    assert len(set(names)) == len(names)
    assert [attempt_of(name) for name in names] == [42] * len(names)


def test_an_attempts_keys_hash_to_one_cluster_slot_whatever_the_prefix() -> None:
    # rule H8: the scripts over state and stream are legal on a Redis Cluster
    for prefix in ("proctor", "t1a2b3c4", "t1a2b3c4-hub-0f0f0f0f"):
        keys = Keys(prefix)
        for attempt_id in (1, 42, 900_003):
            names = [keys.events(attempt_id), keys.state(attempt_id), keys.watchers(attempt_id)]
            slots = {key_slot(name.encode()) for name in names}
            assert slots == {key_slot(f"att:{attempt_id}".encode())}


def test_own_channels_are_distinct() -> None:
    keys = Keys("p")
    first, second = keys.own_channel("rtc-process"), keys.own_channel("rtc-process")
    assert first != second and first.startswith("p:rtc-process:")
