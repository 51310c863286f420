"""REST routes of the bots app (mounted under /api/)."""

urlpatterns: list = []
