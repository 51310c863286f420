"""REST routes of the conversations app (mounted under /api/)."""

urlpatterns: list = []
