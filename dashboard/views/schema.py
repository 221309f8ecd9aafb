"""Views of the schema area."""

urlpatterns: list = []
