"""Views of the activity area."""

urlpatterns: list = []
