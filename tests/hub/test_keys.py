"""Every Redis key and channel is built in hub/keys.py (rule H8)."""

from __future__ import annotations

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


def test_own_channels_are_distinct() -> None:
    keys = Keys("p")
    first, second = keys.own_channel("rtc-process"), keys.own_channel("rtc-process")
    assert first != second and first.startswith("p:rtc-process:")
