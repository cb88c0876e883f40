//! Every write of a holder's profile takes one path (`usecases::profile_update`), whatever
//! API it comes through: `PATCH /users/profile`, seed 000's loyalty PATCH, seed 002's
//! update and seed 001's PATCH of the caller's own id. A rule of that path shows on all
//! four routes, each in its own words.

use integration_tests::{TestEnv, fresh_phone, sms_to, user_token_with, verified_account};
use serde_json::{Value, json};

const APP_KEY: &str = "app-key-profile-update";

/// The four routes, each sending `fields` its own way; the status it answered.
async fn write(env: &TestEnv, route: usize, user: &str, fields: &Value) -> (u16, Value) {
    let token = user_token_with(user, &[]);
    let r = match route {
        0 => {
            env.request("PATCH", "/users/profile")
                .bearer(&token)
                .json(fields.clone())
                .send()
                .await
        }
        1 => {
            // Seed 000's loyalty view requires the date of birth with every PATCH.
            let mut fields = fields.clone();
            fields["date_of_birth"] = json!("1990-01-01");
            env.request("PATCH", "/users/profile-with-loyalty/")
                .bearer(&token)
                .json(fields)
                .send()
                .await
        }
        2 => {
            // Seed 002 sends a form, with the number's digits under `phone_number` (with
            // its country code: this account has no number or country to read it in).
            let form: Vec<String> = fields
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| match (k.as_str(), v.as_str().unwrap()) {
                    ("phone", number) => format!("phone_number={}", &number[1..]),
                    (k, v) => format!("{k}={v}"),
                })
                .collect();
            env.request("POST", "/user/update/profile/")
                .header("apikey", APP_KEY)
                .header("content-type", "application/x-www-form-urlencoded")
                .bearer(&token)
                .raw(form.join("&").into_bytes())
                .send()
                .await
        }
        _ => {
            env.request("PATCH", &format!("/api/v1/accounts/users/{user}"))
                .bearer(&token)
                .json(fields.clone())
                .send()
                .await
        }
    };
    (r.status.as_u16(), r.json())
}

async fn profile(env: &TestEnv, user: &str) -> Value {
    env.request("GET", "/users/profile")
        .bearer(&user_token_with(user, &[]))
        .send()
        .await
        .json()
}

#[tokio::test]
async fn a_new_number_is_only_texted_and_a_known_email_is_no_change_on_every_route() {
    let env = TestEnv::builder().app_keys(&[APP_KEY]).build().await;
    let email = format!("one-path-{:08x}@example.com", rand::random::<u32>());
    let user = verified_account(&env, &email, "securepassword123", ("Ada", "King")).await;
    // Seed 000's loyalty PATCH answers for a user with a card.
    let card = json!({"date_of_birth": "1990-01-01", "add_loyalty": true});
    let r = env
        .request("PATCH", "/users/profile-with-loyalty/")
        .bearer(&user_token_with(&user, &[]))
        .json(card)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    for route in 0..4 {
        // Past the resend cooldown of the code the route before asked for.
        env.clock.advance(chrono::Duration::seconds(61));
        // A new number beside the account's own email: a code goes to the number, nothing
        // is applied.
        let phone = fresh_phone();
        let fields = json!({"email": email, "phone": phone});
        let (status, body) = write(&env, route, &user, &fields).await;
        assert_eq!(status, 202, "route {route}: {body}");
        assert_eq!(
            sms_to(&phone).len(),
            1,
            "route {route}: one code to the number"
        );
        assert_eq!(
            profile(&env, &user).await["phone"],
            Value::Null,
            "route {route}"
        );

        // The account's own email with a field: the field applies, no token is sent.
        let name = format!("Ada {route}");
        let fields = json!({"email": email, "first_name": name});
        let (status, body) = write(&env, route, &user, &fields).await;
        assert_eq!(status, 200, "route {route}: {body}");
        assert_eq!(
            profile(&env, &user).await["first_name"],
            name,
            "route {route}"
        );
    }
}
