"""Ground floor: the event-record schema and the named random streams."""
