"""mailgui: compose and send mail through a durable outbox."""

__version__ = "0.1.0"
