"""add_operator: a non-staff user in the Operators group can run their own campaigns in the console."""
from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from campaigns.models import AuditLog
from campaigns.services.operators import OPERATOR_PERMISSIONS, OPERATORS_GROUP
from tests.campaigns.commands.helpers import CLI_LABEL, run, run_failing
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_create_prints_a_password_that_signs_in_to_an_admin_of_ones_own_campaigns(make_campaign):
    out = run("add_operator", "olga", "--create").out
    password = out.split(" / ")[1].split()[0]
    olga = get_user_model().objects.get(username="olga")
    assert out == f"Created operator olga / {password}   (shown once)\n"
    assert not olga.is_staff and olga.groups.get().name == OPERATORS_GROUP

    client = Client()
    assert client.login(username="olga", password=password)
    mine = make_campaign(actor=olga, name="olga's")
    theirs = make_campaign(actor=UserFactory(), name="someone else's")
    listing = client.get(reverse("admin:campaigns_campaign_changelist"))
    assert listing.status_code == 200
    assert [c.pk for c in listing.context["cl"].result_list] == [mine.pk]
    assert client.get(reverse("admin:campaigns_campaign_change", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("admin:campaigns_campaign_add")).status_code == 200
    assert client.get(reverse("admin:campaigns_dnspersona_changelist")).status_code == 200  # to pick one
    assert client.get(reverse("admin:campaigns_dnspersona_add")).status_code == 403  # shared config: staff only
    assert client.get(reverse("admin:campaigns_proxy_changelist")).status_code == 403


def test_the_group_holds_exactly_the_operator_permissions_even_after_someone_widened_it():
    run("add_operator", "first", "--create")
    group = Group.objects.get(name=OPERATORS_GROUP)
    group.permissions.add(Permission.objects.get(codename="delete_campaign"))

    run("add_operator", "second", "--create")

    assert sorted(group.permissions.values_list("codename", flat=True)) == sorted(OPERATOR_PERMISSIONS)


def test_an_existing_user_is_added_and_it_is_audited():
    user = UserFactory(username="ulla")
    out = run("add_operator", "ulla", "--json").out
    assert json.loads(out) == {"username": "ulla", "group": OPERATORS_GROUP, "created": False, "password": None}
    assert user.groups.filter(name=OPERATORS_GROUP).exists()
    audit = AuditLog.objects.get(action="operator.add")
    assert (audit.actor_label, audit.entity_id, audit.details["username"]) == (CLI_LABEL, str(user.pk), "ulla")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody",), "username: no active user named 'nobody'"),
        (("stan",), "stan is staff, and staff see and change every campaign already."),
        (("taken", "--create"), "a user named 'taken' exists already; leave out --create to add them"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(args, message):
    StaffFactory(username="stan")
    UserFactory(username="taken")
    users = get_user_model().objects.count()

    error, output = run_failing("add_operator", *args)

    assert str(error) == message
    assert output.out == ""
    assert get_user_model().objects.count() == users
    assert not Group.objects.filter(name=OPERATORS_GROUP, user__isnull=False).exists()
    assert not AuditLog.objects.filter(action__startswith="operator.").exists()

