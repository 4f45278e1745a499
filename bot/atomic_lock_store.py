"""Redis lock store that stays correct with several Rasa replicas (runs inside the Rasa server).

Rasa 3.6's ``RedisLockStore`` changes a conversation's lock (its queue of tickets) with separate
GET and SET commands. Inside one Rasa process that is safe, but two replicas receiving messages
of the same conversation at the same moment overwrite each other's tickets: both then hold the
same ticket number and handle their messages at the same time, and the SQL tracker store keeps
only one of the two turns (measured: 4 of 10 bursts of 6 simultaneous messages lost 1-2 user
messages). A replica can also delete a lock on which another replica has just queued.

Here every read-modify-write of a lock is one Redis transaction (WATCH/MULTI/EXEC, retried when
another replica changed the lock in between). Configured like Rasa's ``redis`` lock store; see
``endpoints.production.yml`` (Rasa imports this module from ``bot/``, its working directory).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")

# A change receives the stored lock (None if there is none) and returns the lock to store
# (None: delete it) and the value to return to the caller.
LockChange = Callable[[TicketLock | None], tuple[TicketLock | None, T]]


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _change(self, conversation_id: str, change: LockChange[T]) -> T:
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> T:
            stored = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(stored)) if stored else None
            new_lock, result = change(lock)
            pipe.multi()
            if new_lock is not None:
                pipe.set(key, new_lock.dumps())
            elif stored is not None:
                pipe.delete(key)
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        def remove_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, remove_expired)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give up ``ticket_number``; delete the lock if no other ticket is queued."""

        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, finish)
