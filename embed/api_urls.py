"""REST routes of the embed app (mounted under /api/)."""

urlpatterns: list = []
