//! Seed 001's shapes: its user views and its genders (`M`, `F`); its error bodies are
//! `api::Style::Seed001`'s.

use domain::{Field, Profile};
use serde::Serialize;

/// Seed 001 spells genders `M` and `F`; the profile says `male` and `female`.
pub(crate) fn seed_gender_to_profile(raw: &str) -> &str {
    match raw {
        "M" => "male",
        "F" => "female",
        other => other,
    }
}

fn seed_gender(stored: Option<&str>) -> Option<&str> {
    match stored {
        Some("male") => Some("M"),
        Some("female") => Some("F"),
        other => other,
    }
}

/// The user in seed 001's create answer.
#[derive(Serialize)]
pub(crate) struct SeedUser<'a> {
    id: &'a str,
    email: Option<&'a str>,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    phone: Option<&'a str>,
    gender: Option<&'a str>,
    country: Option<&'a str>,
    created_at: &'a str,
    updated_at: &'a str,
}

impl<'a> SeedUser<'a> {
    pub(crate) fn of(p: &'a Profile) -> Self {
        Self {
            id: &p.user_id,
            email: p.email.as_deref(),
            first_name: p.field(Field::FirstName),
            last_name: p.field(Field::LastName),
            phone: p.phone.as_deref(),
            gender: seed_gender(p.field(Field::Gender)),
            country: p.field(Field::Country),
            created_at: &p.created_at,
            updated_at: &p.updated_at,
        }
    }
}

/// Seed 001's account by id: the create answer's fields and the rest of the profile.
#[derive(Serialize)]
pub(crate) struct SeedAccount<'a> {
    #[serde(flatten)]
    user: SeedUser<'a>,
    photo: Option<&'a str>,
    address: Option<&'a str>,
    birthday: Option<&'a str>,
    /// The names and the birthday are filled in: what a first-run form asks for.
    has_initial_profile: bool,
    /// An operator disabled the account: it cannot sign in until enabled.
    disabled: bool,
}

impl<'a> SeedAccount<'a> {
    pub(crate) fn of(p: &'a Profile) -> Self {
        Self {
            user: SeedUser::of(p),
            photo: p.avatar_url.as_deref(),
            address: p.field(Field::Address),
            birthday: p.field(Field::DateOfBirth),
            has_initial_profile: [Field::FirstName, Field::LastName, Field::DateOfBirth]
                .into_iter()
                .all(|f| p.field(f).is_some()),
            disabled: p.disabled_at.is_some(),
        }
    }
}
