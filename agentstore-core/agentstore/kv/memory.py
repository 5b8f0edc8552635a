"""The reference :class:`~agentstore.kv.KeyValue`: a sorted map in process memory."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Mapping, Sequence

from agentstore.kv.primitives import Pair


class MemoryKeyValue:
    """Keys in one sorted list beside a dict, under one lock: every commit is atomic and
    linearizable across the threads of this process. Nothing is persisted, and nothing
    is shared with another process. Share one instance between opens to let two stores
    see each other's writes, as two connections to one database would."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []

    def get(self, key: bytes) -> bytes | None:
        with self._lock:  # never between two writes of one commit
            return self._data.get(key)

    def scan(self, start: bytes, end: bytes, limit: int) -> Sequence[Pair]:
        with self._lock:
            i = bisect.bisect_left(self._keys, start)
            j = bisect.bisect_left(self._keys, end, lo=i)
            return [(k, self._data[k]) for k in self._keys[i : min(j, i + limit)]]

    def commit(
        self, expect: Mapping[bytes, bytes | None], writes: Mapping[bytes, bytes | None]
    ) -> bool:
        with self._lock:
            data = self._data
            if any(data.get(k) != v for k, v in expect.items()):
                return False
            for k, v in writes.items():
                if v is None:
                    if data.pop(k, None) is not None:
                        del self._keys[bisect.bisect_left(self._keys, k)]
                else:
                    if k not in data:
                        bisect.insort(self._keys, k)
                    data[k] = bytes(v)
            return True

    def close(self) -> None:
        """Nothing to release: the data stays for every store sharing this instance."""

    def __len__(self) -> int:
        return len(self._data)


__all__ = ["MemoryKeyValue"]
