"""Views of the branches area."""

urlpatterns: list = []
