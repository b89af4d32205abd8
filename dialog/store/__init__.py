"""Conversation stores behind one interface."""

from dialog.store.base import Handoff, Store, Turn, UserSummary
from dialog.store.memory import MemoryStore

__all__ = ["Handoff", "MemoryStore", "Store", "Turn", "UserSummary"]
