"""Views of the queries area."""

urlpatterns: list = []
