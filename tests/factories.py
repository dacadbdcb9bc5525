from __future__ import annotations

import factory
from django.contrib.auth import get_user_model


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    is_active = True
    password = factory.django.Password("pw-not-secret-123")


class StaffFactory(UserFactory):
    is_staff = True


def generation_params(**overrides):
    """Small valid generation params: 'abc' × 2 digits before 'shop', one TLD (9 domains)."""
    params = {
        "pattern": "prefix",
        "prefix_length": 2,
        "charset": "abc",
        "constant": "shop",
        "tlds": ["com"],
        "count": 9,
        "batch_size": 3,
    }
    params.update(overrides)
    return params
