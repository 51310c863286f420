"""Studio pages (mounted at /)."""

urlpatterns: list = []
