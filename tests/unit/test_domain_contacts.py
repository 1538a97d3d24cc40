import pytest

from pars_app.domain.contacts import contact_errors, missing_roles


def test_a_complete_contact_is_valid():
    assert contact_errors("primary", "Dana Morgan", "Director", "d@x.org", "(312) 555-0100") == {}


@pytest.mark.parametrize(
    ("field", "kwargs", "message"),
    [
        ("name", {"name": "  "}, "Enter the contact's name."),
        ("name", {"name": "a\x00b"}, "ordinary characters"),
        ("email", {"email": "not-an-email"}, "like name@example.org"),
        ("email", {"email": "a@b"}, "like name@example.org"),
        ("email", {"email": "<script>@x.org"}, "like name@example.org"),
        ("phone", {"phone": "12345"}, "7 to 20 digits"),
        ("phone", {"phone": "=HYPERLINK(1234567)"}, "7 to 20 digits"),
        ("role", {"role": "cfo"}, "Choose a role"),
    ],
)
def test_each_bad_field_gets_its_message(field, kwargs, message):
    values = dict(role="billing", name="Sam", title="", email="s@x.org", phone="312 555 0100")
    values.update(kwargs)
    errors = contact_errors(**values)
    assert list(errors) == [field]
    assert message in errors[field]


def test_missing_roles_names_the_required_ones():
    assert missing_roles(["primary", "other"]) == [
        "Billing Contact",
        "CEO (Chief Executive Officer)",
    ]
    assert missing_roles(["primary", "billing", "ceo"]) == []
