"""REST routes of the audio app (mounted under /api/)."""

urlpatterns: list = []
