from __future__ import annotations

import functools

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

PASSWORD = "pw-not-secret-123"


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once for every user: the default hasher (PBKDF2, a million rounds) takes
    about half a second a hash, which, once per user, cost the suite minutes."""
    return make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    is_active = True
    password = factory.LazyFunction(password_hash)


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
