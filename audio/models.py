"""The audio app has no tables: engines, pipeline and sockets only."""
