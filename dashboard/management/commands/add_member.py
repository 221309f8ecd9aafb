from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dashboard.common import audit
from dashboard.models import Membership, Role, Team


class Command(BaseCommand):
    help = "Add a user to a team with a role, creating the user if needed (for operators without a browser)."

    def add_arguments(self, parser):
        parser.add_argument("team", help="Team slug")
        parser.add_argument("username")
        parser.add_argument("--role", choices=[r.value for r in Role], default=Role.VIEWER.value)
        parser.add_argument(
            "--password",
            help="Password for a new user; if omitted the user cannot log in "
            "until one is set with manage.py changepassword.",
        )

    def handle(self, *args, team, username, role, password, **options):
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"No team with slug {team!r}. Create it with manage.py create_team.")
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username)
        if created:
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.save()
        membership, new = Membership.objects.update_or_create(
            team=team_obj, user=user, defaults={"role": role}
        )
        audit.record(
            None,
            "member.add" if new else "member.change_role",
            team=team_obj,
            obj=membership,
            username=username,
            role=role,
            via="manage.py add_member",
        )
        verb = "Added" if new else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {username} in {team_obj.name} as {role}."))
