use super::*;
use serde_json::json;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn parse(v: Value) -> Result<ProfilePatch, FieldErrors> {
    ProfilePatch::parse(v.as_object().unwrap(), today(), &LocaleCatalog::all())
}

fn fields(e: FieldErrors) -> Vec<String> {
    e.fields().map(str::to_owned).collect()
}

#[test]
fn parses_a_full_patch() {
    let p = parse(json!({
        "first_name": "Ada", "last_name": null, "gender": "female",
        "date_of_birth": "1990-05-17", "language_code": "en", "timezone": "Europe/Istanbul",
        "currency": "EUR", "country": "TR", "address": "Bağdat Cd. 1\nİstanbul",
        "email_allowed": true, "attributes": {"tier": "gold", "old": null}
    }))
    .unwrap();
    assert_eq!(p.fields[&Field::LastName], None);
    assert_eq!(p.attributes.len(), 2);
    assert_eq!(p.consents, [(Channel::Email, ConsentStatus::Subscribed)]);
    let names: Vec<_> = p.fields.keys().map(|f| f.name()).collect();
    assert_eq!(
        names,
        [
            "first_name",
            "last_name",
            "gender",
            "date_of_birth",
            "language_code",
            "timezone",
            "currency",
            "country",
            "address"
        ]
    );
}

#[test]
fn names_every_bad_field() {
    let e = parse(json!({
        "user_id": "x", "phone": "0532", "nickname": "a", "first_name": 5,
        "date_of_birth": "2999-01-01", "email_allowed": "yes", "gender": "M"
    }))
    .unwrap_err();
    assert_eq!(
        fields(e),
        [
            "date_of_birth",
            "email_allowed",
            "first_name",
            "gender",
            "nickname",
            "phone",
            "user_id"
        ]
    );
}

#[test]
fn country_and_address_are_checked() {
    let e = parse(json!({"country": "us", "address": "a\u{0007}b"})).unwrap_err();
    assert_eq!(fields(e), ["address", "country"]);
    let p = parse(json!({"country": "US", "address": null})).unwrap();
    assert_eq!(p.fields[&Field::Address], None);
    assert_eq!(p.fields[&Field::Country].as_ref().unwrap().as_str(), "US");
}

#[test]
fn attribute_limits() {
    let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
    assert_eq!(
        fields(parse(json!({"attributes": many})).unwrap_err()),
        ["attributes"]
    );
    assert_eq!(
        fields(parse(json!({"attributes": {"bad key": 1}})).unwrap_err()),
        ["attributes.bad key"]
    );
    assert_eq!(
        fields(parse(json!({"attributes": [1]})).unwrap_err()),
        ["attributes"]
    );
    assert_eq!(fields(parse(json!({})).unwrap_err()), ["body"]);
}

#[test]
fn every_settable_field_is_parsed() {
    let flags = Channel::ALL.into_iter().filter_map(Channel::profile_flag);
    for field in Field::ALL.map(Field::name).into_iter().chain(flags) {
        assert!(ProfilePatch::sets_by_name(field));
        let err = parse(json!({ field: [] })).unwrap_err();
        let message = format!("{err:?}");
        assert!(
            !message.contains("not a profile field") && !message.contains("read-only"),
            "{field}"
        );
    }
}

#[test]
fn phone_code_and_resend() {
    let p = parse(json!({"phone": "+905321234567", "code": "123456", "first_name": "A"})).unwrap();
    assert_eq!(p.phone.unwrap().e164(), "+905321234567");
    assert!(p.code.is_some() && !p.resend);
    assert_eq!(
        fields(parse(json!({"code": "123456"})).unwrap_err()),
        ["code"]
    );
    assert_eq!(
        fields(parse(json!({"resend": true})).unwrap_err()),
        ["resend"]
    );
    assert_eq!(
        fields(parse(json!({"phone": null})).unwrap_err()),
        ["phone"]
    );
    assert_eq!(
        fields(parse(json!({"phone": "+905321234567", "code": 123456})).unwrap_err()),
        ["code"]
    );
}

#[test]
fn patched_applies_fields_and_attributes() {
    let user = UserId::parse("ada").unwrap();
    let now = Utc::now();
    let base = Profile::empty(&user, now);
    let p = parse(
        json!({"first_name": "Ada", "email_allowed": true, "attributes": {"a": 1, "b": null}}),
    )
    .unwrap();
    let next = base.patched(&p, now).unwrap();
    assert_eq!(next.field(Field::FirstName), Some("Ada"));
    assert!(next.allows(Channel::Email));
    assert_eq!(next.attributes.len(), 1);
    assert_eq!(next.version, 1);
    let clear = parse(json!({"first_name": null})).unwrap();
    assert_eq!(
        next.patched(&clear, now).unwrap().field(Field::FirstName),
        None
    );

    let mut full = base.clone();
    for i in 0..50 {
        full.attributes
            .insert(format!("k{i}"), AttributeValue::Bool(true));
    }
    assert_eq!(
        full.patched(&parse(json!({"attributes": {"new": 1}})).unwrap(), now),
        Err(TooManyAttributes)
    );
}
