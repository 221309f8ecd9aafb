def test_project_list_shows_registered_project_to_team_member(client_for, project):
    response = client_for("viewer").get("/projects/")
    assert response.status_code == 200
    assert b"Shop" in response.content


def test_anonymous_user_is_sent_to_login(client):
    response = client.get("/projects/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
